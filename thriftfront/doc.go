// Package thriftfront serves the HiveServer2 TCLIService Thrift protocol (V1 to V11) for
// beeline, Hive JDBC, PyHive, impyla and other HS2 clients.
//
// Transport: one TCP port serves both binary-transport flavours. The first byte tells them
// apart: 0x01 starts a SASL negotiation (PLAIN, and GSSAPI when Config.Kerberos is set, with
// QOP auth only: gssapi.go; client messages are accepted with status OK or COMPLETE), 0x80
// starts an unframed NOSASL binary-protocol message. The HTTP transport takes the auth
// cookie, then Negotiate (SPNEGO, with Kerberos) or Basic credentials. A SASL authorization
// id or hive.server2.proxy.user naming another user is allowed by Config.ProxyUsers in
// OpenSession, or the session is refused. Anything else closes the connection with a logged reason. Frames are bounded by
// Config.MaxFrameSize.
//
// Admission (Config.Admission, shared with the Spark Connect frontend): a binary connection
// is counted from accept to close, for its client address at once (a denied address, or one
// at its cap, gets a SASL BAD message naming the reason before any credential is read) and
// for its user once SASL PLAIN proves it (a denied user, or one at a cap, gets the BAD
// message instead of COMPLETE) or, for NOSASL, once OpenSession names it. HTTP is stateless
// per request, so there an open HS2 session is the connection: OpenSession counts it for its
// address and user (an error status with SQLSTATE 53000 over a cap), and it is released when
// the session closes or the engine layer ends it. Every HTTP request from a denied address
// gets 403 before its credentials are looked at, and one of a denied user 403 after.
//
// Execution: ExecuteStatement turns the statement into a Spark Connect plan (package
// translate) and starts it on the session's engine. The operation is FINISHED as soon as the
// first Arrow batch arrives; FetchResults then pulls the engine stream batch by batch and
// encodes each page of rows straight into the reply (fetchwire.go, one route for every
// protocol version and Thrift protocol), so the bridge never holds a whole result.
//
// Lifecycles:
//   - A connection ends when the client closes it, on a protocol error, or at shutdown. The
//     sessions opened on it are closed then, as HiveServer2 does for the binary transport.
//     At shutdown, Server.Shutdown closes a connection with no call in flight (or still in
//     its handshake) at once, without a warning, and lets one serving a call send its reply
//     first; Server.Close cuts off whatever is left. Server.InFlight and
//     HTTPHandler.InFlight count the calls being served, for the bridge's drain.
//   - A session ends with CloseSession, with its binary connection (an HTTP session outlives
//     its requests), or when the engine layer's idle reaper ends it (noticed at the next
//     call); its operations are closed and its engine session released.
//   - An operation ends with CloseOperation or with its session; CancelOperation cancels the
//     engine call first. An operator's cancel (engine.Operation.Cancel, from the admin API)
//     is observed on the operation's own goroutine: the engine call is cancelled and the
//     client's next poll reads CANCELED_STATE. Every operation a client holds a handle to, metadata calls
//     included, is in the engine layer's registry while it lives; when the registry expires an idle one, the operation's own
//     goroutine frees it. An operation is the HS2 state machine (operation.go) and owns its
//     result (cursor.go); the lock order is written there.
//
// Errors become TStatus values in exactly one place, toWire in status.go.
//
// Config.Observer hears of binary connections, of every TCLIService call with its method and
// TStatusCode (observe.go wraps the Handler for the generated processor; FetchResults reports
// from its own processor) and of refused credentials, for metrics; sessions and operations
// reach metrics and the audit log through the engine layer's observer instead.
//
// thriftfront may import engine (its session interface and typed execution API), auth,
// translate, idl/hiveserver, proto/spark/connect (messages), thrift, arrow-go, uuid and
// logrus. It links no
// gRPC (a test checks): engine errors reach it already normalised. It never launches, probes
// or dials an engine.
package thriftfront
