package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sparkbridge/sparkbridge/admin"
	"github.com/sparkbridge/sparkbridge/auth"
	"github.com/sparkbridge/sparkbridge/connectfront"
	"github.com/sparkbridge/sparkbridge/engine"
	"github.com/sparkbridge/sparkbridge/thriftfront"
)

// limitsConfig is the file's "limits" object; each key matches a -max-connections-* or
// -deny-* flag.
type limitsConfig struct {
	MaxConnectionsPerUser        *int     `json:"max_connections_per_user"`
	MaxConnectionsPerAddress     *int     `json:"max_connections_per_address"`
	MaxConnectionsPerUserAddress *int     `json:"max_connections_per_user_address"`
	DenyUsers                    []string `json:"deny_users"`
	DenyAddresses                []string `json:"deny_addresses"`
}

// apply lays the file's limits under the flags (the caller re-applies the flags given on
// the command line afterwards).
func (lc limitsConfig) apply(cfg *auth.AdmissionConfig, denyUsers, denyAddrs *string) {
	for dst, src := range map[*int]*int{&cfg.MaxPerUser: lc.MaxConnectionsPerUser, &cfg.MaxPerAddress: lc.MaxConnectionsPerAddress,
		&cfg.MaxPerUserAddress: lc.MaxConnectionsPerUserAddress} {
		if src != nil {
			*dst = *src
		}
	}
	if lc.DenyUsers != nil {
		*denyUsers = strings.Join(lc.DenyUsers, ",")
	}
	if lc.DenyAddresses != nil {
		*denyAddrs = strings.Join(lc.DenyAddresses, ",")
	}
}

// wireAuth gives every frontend the same guarded provider and the same admission: one
// backoff per client address and one account of connections, whichever protocol a client
// speaks. The admin API checks its Basic credentials through the same guard.
func wireAuth(guard *auth.Guard, adm *auth.Admission, tcfg *thriftfront.Config, ccfg *connectfront.Config, acfg *admin.Config) {
	tcfg.Auth, ccfg.Auth, acfg.Auth = guard, guard, guard
	tcfg.Admission, ccfg.Admission = adm, adm
}

// authorizationWarnings says where an authenticated user's plans do not run as that user,
// so that the data they can read is not theirs to decide: Spark Connect runs every plan as
// the engine's user (Kyuubi issue #7511 found this on Spark 4.0-4.2), so only an engine of
// one user's own, launched with -proxy-user, authorizes data per user. The rule:
//   - with an auth mode that trusts every client (NONE) nothing is said here: identities
//     are not proven at all, which is warned about on its own;
//   - at the GROUP and SERVER share levels, plans run as the group's or the bridge's user;
//   - at USER and CONNECTION without -proxy-user, every engine runs as the bridge's user;
//   - with -allow-share-level-override, clients can choose GROUP or SERVER themselves;
//   - users and groups routed to static engines run as whatever user those engines run as.
func authorizationWarnings(trustsClients bool, cfg engine.Config) []string {
	if trustsClients {
		return nil
	}
	const why = "Spark Connect runs every plan as the engine's user; per-user data authorization needs -share-level USER (or CONNECTION) with -proxy-user"
	var out []string
	switch cfg.ShareLevel {
	case engine.ShareGroup, engine.ShareServer:
		out = append(out, fmt.Sprintf("share level %s: every session of an engine runs as that engine's user, not as the authenticated user; %s", cfg.ShareLevel, why))
	default:
		if !cfg.ProxyUser {
			out = append(out, fmt.Sprintf("share level %s without -proxy-user: every engine runs as the bridge's own OS user, so authenticated users are told apart for routing but not for data access; %s", cfg.ShareLevel, why))
		}
	}
	if cfg.AllowShareLevelOverride {
		out = append(out, fmt.Sprintf("-allow-share-level-override lets clients choose GROUP or SERVER with %s, where plans run as the engine's user; %s", engine.ConfShareLevel, why))
	}
	if n := len(cfg.UserEngines) + len(cfg.GroupEngines); n > 0 {
		var who []string
		for u := range cfg.UserEngines {
			who = append(who, "user "+u)
		}
		for g := range cfg.GroupEngines {
			who = append(who, "group "+g)
		}
		sort.Strings(who)
		out = append(out, fmt.Sprintf("%s routed to static engines, which run every plan as their own user", strings.Join(who, ", ")))
	}
	return out
}
