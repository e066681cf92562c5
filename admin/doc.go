// Package admin is the bridge's operations surface: an HTTP server, on a port of its own and
// apart from the client ports, serving
//
//   - the admin REST API under /api/v1 (JSON): the sessions, operations and engines of the
//     engine layer's registry, with filters, and its recent failures; closing a session, cancelling an operation,
//     draining an engine, draining the bridge; and its OpenAPI description
//     (/api/v1/openapi.yaml, embedded from openapi.yaml, which a test holds to the routes);
//   - /healthz (the process answers) and /readyz (it serves clients: 503 before it is ready
//     and while it drains), for load balancers and Kubernetes probes;
//   - Go's pprof profiles under /debug/pprof/, and /metrics when Config.Metrics is set;
//   - the web console at / (console.go): overview, sessions, queries and engines pages
//     rendered on the server with html/template from files embedded in the binary (console/),
//     with a little plain JavaScript that refreshes them in place and sends their buttons'
//     cancel, close and drain requests to the API. It needs nothing from the network, and
//     goes through the API's authentication: with an admins list the browser asks for
//     Basic credentials.
//
// The API reads and acts on the engine layer's registry only (the Registry interface, which
// engine.Manager implements); it keeps no copy of its own and never calls into a frontend.
// A frontend observes what an operator did through the registry: a cancelled operation's
// Cancelled channel, a closed session's Done.
//
// Security: on a loopback address with no Config.Admins the server is open to every local
// user, as pprof used to be, for requests addressed to a loopback host (a web site whose
// name resolves to 127.0.0.1, DNS rebinding, is refused). Otherwise every route but /healthz and /readyz requires HTTP
// Basic credentials that Config.Auth (the provider the clients use) accepts, for a user in
// Config.Admins (else 401 or 403). A non-loopback address also requires TLS, a non-empty
// admins list and an auth provider that checks passwords: New refuses to build the server
// without them. An action (any method but GET, HEAD and OPTIONS) that a browser marks as
// coming from a page of another origin (Sec-Fetch-Site, Origin) is refused with 403, so that
// no web site can make an administrator's browser, which holds their Basic credentials or
// reaches the open loopback server, cancel, close or drain anything; clients that are not
// browsers send neither header.
//
// Lifecycle: Serve runs until Shutdown, which waits for requests in flight (bounded by its
// ctx). Every action is logged and reported to Config.Audit, if set.
//
// admin may import engine, auth, logrus and the standard library; never the frontends (its
// tests join them to it, to see a client of each frontend hear of an operator's action).
package admin
