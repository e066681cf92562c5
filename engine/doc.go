// Package engine is the shared session layer of sparkbridge, and the only package that knows
// Spark engines exist.
//
// An engine is a Spark Connect server. The Manager routes each session to an engine by its
// key, which the share level decides: one engine per session (CONNECTION), per user (USER,
// the default), per group (GROUP) or one for everyone (SERVER), optionally per named
// subdomain. Users and groups may be mapped to a pre-provisioned static engine instead, or
// to an engine profile (another Spark installation, so another Spark version). The Manager
// launches an engine on demand through a Launcher (spark-submit with the SparkConnectServer
// class, bound to loopback where Spark allows it, with a per-engine secret passed through the
// environment and checked by the engine plugin's interceptor) and reuses it for every later
// session of its key, whichever protocol the session came from.
//
// Both frontends get a *Session from the Manager and talk to the engine only through it.
// The translating frontend uses its typed execution API: Execute (a plan, read back with
// Results.Next), SetConf, GetConf, Interrupt and Close. Every failure of those calls is
// normalised once, here (normalise and Session.Explain): a transport status and Spark's
// ErrorInfo become an *Error with a Kind, Spark's SQLSTATE and error class, and a message,
// KindEngineLost when the engine died during the call. The Spark Connect frontend, a proxy,
// takes the session's Conn and relays raw calls through it. Frontends never launch, probe or
// dial an engine.
//
// The engine's channel is a Conn; engine itself links no gRPC. engine/transport is the gRPC
// Conn (Config.Dial = DialWith(transport.Dial)), the only gRPC code under engine.
//
// The Manager's registry holds every live session and operation, whichever protocol made
// them: an Operation records its kind, statement, engine, state, and the rows and bytes sent.
// Manager.Sessions, Manager.Operations and Manager.Engines read it as copies. The idle
// reaper ends idle operations (closing Operation.Expired, on which the owning frontend frees
// them) and idle sessions (closing Session.Done); it never calls into a frontend. A frontend
// ends a failed operation with Operation.Fail and the message its client read; the Manager
// keeps the last MaxRecentFailures of those (Manager.RecentFailures), since a finished
// operation leaves the registry as soon as its client closes it.
//
// An operator acts through the same registry (the admin API): Manager.CloseSession ends a
// session as the reaper does; Manager.CancelOperation calls Operation.Cancel, which marks the
// operation CANCELED for good, interrupts its execution on the engine (Session.Interrupt of
// its current execution id) and closes Operation.Cancelled, on which the owning frontend
// ends the client's call or reports the cancellation; Manager.DrainEngine drains one engine
// (the state the maximum lifetime uses), which stops once its sessions end or its grace
// period is over; Manager.Drain and Manager.Draining are the bridge-wide drain.
//
// Config.Observer is the one hook for the operations surfaces (metrics, the audit log): the
// registry tells it of every session opened, refused and closed, every operation started,
// sending and ended (with its outcome, rows, bytes and timing), and every engine launched,
// ready, failed, draining, stopped or lost, each once, from the one place where it
// happens. What is current (sessions open, engines by state) an observer reads from the
// registry, never from a copy of its own.
//
// Lifecycles:
//   - An engine is launched by the first session of its key; concurrent first sessions wait
//     for that one launch. It is stopped when the Manager closes, after its idle timeout, or
//     when its CONNECTION session ends; it drains after its maximum lifetime; it is forgotten
//     when its process exits or fails its liveness probes, so that the next session launches
//     a new one.
//   - A session ends with its last holder's Session.Close, or when the idle reaper ends it:
//     either way it leaves the registry, its Done channel closes, its operations expire and
//     the engine-side Spark Connect session is released (at the CONNECTION level, the
//     engine stops). Session.Detach forgets a session the client released itself. Sessions
//     still open when the Manager closes fail from then on.
//   - In cluster deploy mode (a spark://, yarn or k8s:// master) the cluster manager runs
//     the driver; the launch waits for the driver's JVM plugin to register its Connect
//     address at the Registrar with a one-time launch token. The driver's secrets reach it
//     by environment (standalone), a 0600 --files file (YARN) or a Kubernetes secret, never
//     on argv. A clusterManager (clustermgr.go) stops such a driver and reports the cluster
//     manager's view of it (DriverStatus), refreshed at every liveness probe; a driver it
//     reports ended is lost at once.
//   - With Config.Detach an engine outlives the bridge: a cluster-mode driver, or a
//     client-mode driver started in its own session without the parent-death signal. It is
//     recorded in the EngineStore, left running by Manager.Close, adopted again by the next
//     bridge's Manager.Adopt (a client-mode one as an orphanProcess, known by pid and start
//     time), and stops itself when idle (IdleStopPlugin) even with no bridge alive.
//   - Manager.Close stops every engine it launched (detached ones excepted), a launch that
//     completes while it runs included (that engine is stopped, never registered); no JVM
//     but a detached engine outlives the bridge. It returns when its ctx ends, engines still
//     stopping being killed. Other engine processes carry a parent-death signal, so they die
//     with a crashed bridge.
//
// engine may import proto/spark/connect (the messages, not connectgrpc), logrus, uuid and the
// standard library; engine/transport may import grpc, errdetails and connectgrpc too. Neither may import
// the frontends or translate.
package engine
