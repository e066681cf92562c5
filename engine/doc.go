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
// Both frontends get a *Session from the Manager and talk to the engine only through it:
// Session.Client returns a Spark Connect client already bound to the user's engine and
// authenticated with the engine's secret. Frontends never launch, probe or dial an engine.
//
// Lifecycles:
//   - An engine is launched by the first session of its key; concurrent first sessions wait
//     for that one launch. It is stopped when the Manager closes, after its idle timeout, or
//     when its CONNECTION session ends; it drains after its maximum lifetime; it is forgotten
//     when its process exits or fails its liveness probes, so that the next session launches
//     a new one.
//   - A session ends with Session.Close, which releases the engine-side Spark Connect
//     session, or when the Manager closes.
//   - Manager.Close stops every engine it launched, a launch that completes while it runs
//     included (that engine is stopped, never registered); no JVM outlives the bridge. It
//     returns when its ctx ends, engines still stopping being killed. Engine processes also
//     carry a parent-death signal, so they die with a crashed bridge.
//
// engine may import proto/spark/connect, grpc and the standard library. It must not import
// the frontends or translate.
package engine
