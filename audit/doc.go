// Package audit writes sparkbridge's audit log: one JSON object per line, in a file of its
// own, for every session opened, refused and closed, every operation (statement, metadata
// call, Spark Connect execution) that ended, and every administrative action.
//
// A Log is an engine.Observer: the engine layer's registry tells it of sessions and
// operations, from the same hook as the metrics. The admin API calls Log.Admin.
//
// Secrets never reach the file. A statement or error message is redacted before it is
// written (Redact): the value of a SET of a protected conf key (the engine secret,
// anything named like a password, secret, token or credentials: engine.ProtectedConf plus
// -protect-conf), and any quoted or key=value literal given to such a key (OPTIONS
// (password '...'), TBLPROPERTIES ('secret'='...')), become "*********(redacted)". Then it is
// cut to Config.MaxStatement bytes.
//
// Lifecycle: Open opens (or creates, mode 0600) the file in append mode; each line is one
// write under a mutex, so lines from concurrent calls never interleave and a line written
// is in the file even if the bridge then crashes. Close, in the bridge's shutdown after the
// engines have stopped, closes it; lines reported after Close are dropped. It starts no
// goroutines.
//
// audit may import engine and the standard library.
package audit
