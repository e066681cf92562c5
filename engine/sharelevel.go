package engine

import (
	"strings"
	"time"
)

// ShareLevel says which sessions share an engine.
type ShareLevel string

// Share levels, as in Kyuubi.
const (
	// ShareConnection gives every session its own engine, stopped when the session closes.
	ShareConnection ShareLevel = "CONNECTION"
	// ShareUser gives each user one engine (per subdomain). The default.
	ShareUser ShareLevel = "USER"
	// ShareGroup gives each group one engine (per subdomain).
	ShareGroup ShareLevel = "GROUP"
	// ShareServer gives everyone one engine (per subdomain).
	ShareServer ShareLevel = "SERVER"
)

// ParseShareLevel accepts a share level name in any case.
func ParseShareLevel(s string) (ShareLevel, error) {
	switch l := ShareLevel(strings.ToUpper(strings.TrimSpace(s))); l {
	case ShareConnection, ShareUser, ShareGroup, ShareServer:
		return l, nil
	}
	return "", newError(KindInvalidArgument, nil, "unknown share level %q: want CONNECTION, USER, GROUP or SERVER", s)
}

// Session conf keys the engine layer reads. HS2 clients send them as session configuration
// (with or without the set:hiveconf: prefix); Spark Connect clients as request headers,
// which PySpark sets from sc:// URL parameters.
const (
	// ConfShareLevel overrides the share level for the session, where the config allows it.
	ConfShareLevel = "sparkbridge.engine.share.level"
	// ConfSubdomain selects one of several named engines of the same key.
	ConfSubdomain = "sparkbridge.engine.subdomain"
	// ConfIdleTimeout sets the idle timeout of an engine this session launches.
	ConfIdleTimeout = "sparkbridge.engine.idle.timeout"
	// ConfSessionID makes the session join an existing session of the same user.
	ConfSessionID = "sparkbridge.session.id"
)

// SessionConf looks a key up in a session configuration, accepting HiveServer2's
// set:hiveconf: prefix.
func SessionConf(conf map[string]string, key string) string {
	if v, ok := conf[key]; ok {
		return v
	}
	return conf["set:hiveconf:"+key]
}

// placement is where a session's engine lives and how it is launched.
type placement struct {
	key         string // routing key: sessions with equal keys share an engine
	level       ShareLevel
	runAs       string // the identity the engine runs as (proxy user)
	static      string // name of a static engine, or ""
	conf        map[string]string
	profile     string // Config.Profiles entry the engine launches with; "" for the default
	idleTimeout time.Duration
}

// master is the Spark master an engine of p is launched on; "" for a static engine.
func (p placement) master(cfg Config) string {
	if p.static != "" {
		return ""
	}
	return cfg.Master
}

// place decides the engine for a session request.
func (m *Manager) place(req SessionRequest, sessionID string) (placement, error) {
	level := m.cfg.ShareLevel
	if v := SessionConf(req.Conf, ConfShareLevel); v != "" {
		l, err := ParseShareLevel(v)
		if err != nil {
			return placement{}, err
		}
		if l != level && !m.cfg.AllowShareLevelOverride {
			return placement{}, newError(KindPermissionDenied, nil, "this bridge does not allow sessions to choose their share level (%s=%s)", ConfShareLevel, v)
		}
		level = l
	}
	sub := SessionConf(req.Conf, ConfSubdomain)
	if sub != "" && !validName(sub) {
		return placement{}, newError(KindInvalidArgument, nil, "engine subdomain %q: use letters, digits, '-' and '_' (at most 64)", sub)
	}
	group := m.groupOf(req.User, req.Groups)
	p := placement{level: level, key: EngineKey(level, req.User, group, sub, sessionID)}
	switch level {
	case ShareGroup:
		p.runAs = group
	case ShareServer:
		p.runAs = ""
	default:
		p.runAs = req.User
	}
	if name := m.cfg.UserEngines[req.User]; name != "" {
		p.static = name
	} else if name := m.cfg.GroupEngines[group]; name != "" {
		p.static = name
	}
	if p.static != "" {
		if _, ok := m.cfg.StaticEngines[p.static]; !ok {
			return placement{}, newError(KindInternal, nil, "static engine %q is mapped but not defined", p.static)
		}
		p.key = "static/" + p.static
		return p, nil
	}
	conf, err := m.launchConf(req.User, req.Conf)
	if err != nil {
		return placement{}, err
	}
	p.conf = conf
	if name := m.cfg.UserProfiles[req.User]; name != "" {
		p.profile = name
	} else if name := m.cfg.GroupProfiles[group]; name != "" {
		p.profile = name
	}
	if p.profile != "" {
		if _, ok := m.cfg.Profiles[p.profile]; !ok {
			return placement{}, newError(KindInternal, nil, "engine profile %q is mapped but not defined", p.profile)
		}
		// Users of one group or server engine may have different profiles: they do not share.
		p.key += "/profile/" + p.profile
	}
	p.idleTimeout = m.cfg.IdleTimeout
	if v := SessionConf(req.Conf, ConfIdleTimeout); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return placement{}, newError(KindInvalidArgument, err, "%s=%q is not a positive duration such as 30s or 10m", ConfIdleTimeout, v)
		}
		p.idleTimeout = d
	}
	return p, nil
}

// EngineKey is the routing key of a session: sessions with equal keys share an engine.
func EngineKey(level ShareLevel, user, group, subdomain, sessionID string) string {
	var k string
	switch level {
	case ShareConnection:
		return "connection/" + sessionID
	case ShareGroup:
		k = "group/" + group
	case ShareServer:
		k = "server"
	default:
		k = "user/" + user
	}
	if subdomain != "" {
		k += "/" + subdomain
	}
	return k
}

// groupOf is user's group for the GROUP share level and group routing: the bridge's groups
// map when it names one (an operator's choice wins), else the first group the auth provider
// reported, else the user alone.
func (m *Manager) groupOf(user string, groups []string) string {
	if g := m.cfg.Groups[user]; g != "" {
		return g
	}
	for _, g := range groups {
		if g != "" {
			return g
		}
	}
	return user
}

// launchConf merges Spark confs for a launch: config defaults, then the user's overrides,
// then the allow-listed keys of the session conf.
func (m *Manager) launchConf(user string, session map[string]string) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range m.cfg.SparkConf {
		out[k] = v
	}
	for k, v := range m.cfg.UserConf[user] {
		out[k] = v
	}
	for k, v := range session {
		k = strings.TrimPrefix(k, "set:hiveconf:")
		if !strings.HasPrefix(k, "spark.") || !m.allowed(k) {
			continue
		}
		out[k] = v
	}
	return out, nil
}

// allowed reports whether a session may set a launch conf key. Allow-list entries are exact
// keys or path.Match patterns such as spark.executor.*.
func (m *Manager) allowed(key string) bool {
	return MatchConf(m.cfg.SessionConfAllowList, key)
}

func validName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
