package connectfront

import (
	"io"
	"sync"
)

// lockedWriter lets the test read logs that server goroutines write.
type lockedWriter struct {
	w io.Writer
}

// logMu guards every testBridge's log buffer.
var logMu sync.Mutex

func (l *lockedWriter) Write(p []byte) (int, error) {
	logMu.Lock()
	defer logMu.Unlock()
	return l.w.Write(p)
}

func logText(b *testBridge) string {
	logMu.Lock()
	defer logMu.Unlock()
	return b.logs.String()
}
