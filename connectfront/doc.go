// Package connectfront serves the Spark Connect gRPC protocol (SparkConnectService) and
// forwards every call to the caller's session on its engine.
//
// A request names its session (session_id) and user (user_context). The frontend asks the
// engine layer for that session, which routes the user to the user's engine, launching it on
// first use, and then forwards the request with its streaming kind preserved: server streams
// are relayed message by message, so results are never collected in the bridge, and a slow
// client slows the engine stream through gRPC flow control. Requests are parsed, because the
// bridge reads their session and user and rewrites user_context to the authenticated user
// (unknown fields survive re-encoding, so newer clients keep working); result frames of
// ExecutePlan and ReattachExecute are relayed as raw bytes, never decoded (frame.go).
//
// Every execution is registered in the engine layer's registry, with a one-line summary of
// its plan and the rows and bytes relayed (read from each frame's first bytes); one whose
// stream ends before its ResultComplete (a reattachable execution) stays registered for its
// reattaches, which count too, until it completes or idles out. An execution an operator
// cancels (engine.Operation.Cancel, which interrupts it on the engine) ends with the engine's
// own error, relayed, or, if the engine has not ended it within cancelGrace, with CANCELLED
// from the bridge. Errors the
// engine returns are relayed as they are; errors the bridge produces become statuses in one
// place, toStatus, by their engine.Kind.
//
// Config.Admission (shared with the HiveServer2 frontend) counts gRPC connections
// (admission.go): a connection counts for its client address from its start, and for each
// user authenticated on it from that user's first call, until it ends. Calls on a
// connection from a denied address, or one at its cap, are refused before their token is
// looked at (PERMISSION_DENIED, RESOURCE_EXHAUSTED); a denied user, or one at a cap, is
// refused right after authentication, likewise.
//
// Config.Observer hears of every connection (a gRPC stats handler), every call with its
// method and the code the client got (the outermost interceptors, observe.go) and every
// refused token, for metrics.
//
// connectfront may import engine, engine/transport (to read a relayed status), auth,
// translate (plan summaries), proto/spark/connect with connectgrpc, grpc, errdetails, uuid
// and logrus. It never launches,
// probes or dials an engine itself. A call ends when the engine's reply (or stream) ends or
// the client goes away, which cancels the engine call through the shared context.
package connectfront
