package engine

import (
	"context"
	"fmt"
	"github.com/sparkbridge/sparkbridge/engine/transport"
	"sync"
	"testing"
	"time"
)

func TestEngineKey(t *testing.T) {
	cases := []struct {
		level                       ShareLevel
		user, group, sub, sessionID string
		want                        string
	}{
		{ShareUser, "alice", "eng", "", "s1", "user/alice"},
		{ShareUser, "alice", "eng", "etl", "s1", "user/alice/etl"},
		{ShareGroup, "alice", "eng", "", "s1", "group/eng"},
		{ShareGroup, "alice", "eng", "bi", "s1", "group/eng/bi"},
		{ShareServer, "alice", "eng", "", "s1", "server"},
		{ShareServer, "bob", "ops", "x", "s2", "server/x"},
		{ShareConnection, "alice", "eng", "etl", "s1", "connection/s1"},
	}
	for _, c := range cases {
		if got := EngineKey(c.level, c.user, c.group, c.sub, c.sessionID); got != c.want {
			t.Errorf("EngineKey(%s, %s, %s, %s, %s) = %q, want %q", c.level, c.user, c.group, c.sub, c.sessionID, got, c.want)
		}
	}
}

func TestPlacement(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Dial = DialWith(transport.Dial)
	cfg.Groups = map[string]string{"alice": "analysts"}
	cfg.StaticEngines = map[string]StaticEngine{"shared": {Addr: "127.0.0.1:1"}}
	cfg.UserEngines = map[string]string{"svc": "shared"}
	cfg.GroupEngines = map[string]string{"bi": "shared"}
	m := &Manager{cfg: cfg}
	place := func(user string, conf map[string]string) (placement, error) {
		return m.place(SessionRequest{User: user, Conf: conf}, "sid")
	}

	p, err := place("alice", nil)
	if err != nil || p.key != "user/alice" || p.runAs != "alice" {
		t.Fatalf("default: %+v %v", p, err)
	}
	if _, err := place("alice", map[string]string{ConfShareLevel: "group"}); !IsPermissionDenied(err) {
		t.Fatalf("override without permission: %v", err)
	}
	m.cfg.AllowShareLevelOverride = true
	p, err = place("alice", map[string]string{"set:hiveconf:" + ConfShareLevel: "group", ConfSubdomain: "nightly"})
	if err != nil || p.key != "group/analysts/nightly" || p.runAs != "analysts" {
		t.Fatalf("group with subdomain: %+v %v", p, err)
	}
	p, err = place("bob", map[string]string{ConfShareLevel: "GROUP"})
	if err != nil || p.key != "group/bob" {
		t.Fatalf("user without a group is their own group: %+v %v", p, err)
	}
	p, err = place("carol", map[string]string{ConfShareLevel: "server"})
	if err != nil || p.key != "server" || p.runAs != "" {
		t.Fatalf("server: %+v %v", p, err)
	}
	if _, err := place("carol", map[string]string{ConfShareLevel: "cluster"}); KindOf(err) != KindInvalidArgument {
		t.Fatalf("unknown level: %v", err)
	}
	if _, err := place("carol", map[string]string{ConfSubdomain: "../etc"}); KindOf(err) != KindInvalidArgument {
		t.Fatalf("bad subdomain: %v", err)
	}
	p, err = place("svc", nil)
	if err != nil || p.key != "static/shared" {
		t.Fatalf("user mapped to a static engine: %+v %v", p, err)
	}
	m.cfg.Groups["dave"] = "bi"
	p, err = place("dave", nil)
	if err != nil || p.key != "static/shared" {
		t.Fatalf("group mapped to a static engine: %+v %v", p, err)
	}
	p, err = place("alice", map[string]string{ConfIdleTimeout: "45s"})
	if err != nil || p.idleTimeout != 45*time.Second {
		t.Fatalf("idle timeout from session conf: %+v %v", p, err)
	}
	if _, err := place("alice", map[string]string{ConfIdleTimeout: "soon"}); KindOf(err) != KindInvalidArgument {
		t.Fatalf("bad idle timeout: %v", err)
	}
}

// A user's profile wins over their group's; profiled engines have keys of their own, so that
// one GROUP engine never serves two Spark versions.
func TestPlacementProfiles(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Dial = DialWith(transport.Dial)
	cfg.ShareLevel = ShareGroup
	cfg.Groups = map[string]string{"carol": "legacy", "dan": "legacy", "erin": "legacy"}
	cfg.Profiles = map[string]Profile{"spark35": {SparkHome: "/opt/spark-3.5"}, "spark40": {SparkHome: "/opt/spark-4.0"}}
	cfg.GroupProfiles = map[string]string{"legacy": "spark35"}
	cfg.UserProfiles = map[string]string{"erin": "spark40", "zed": "nope"}
	m := &Manager{cfg: cfg}
	for user, want := range map[string][2]string{
		"carol": {"group/legacy/profile/spark35", "spark35"},
		"dan":   {"group/legacy/profile/spark35", "spark35"},
		"erin":  {"group/legacy/profile/spark40", "spark40"},
		"frank": {"group/frank", ""},
	} {
		p, err := m.place(SessionRequest{User: user}, "sid")
		if err != nil || p.key != want[0] || p.profile != want[1] {
			t.Errorf("%s: key %q profile %q (%v), want %q %q", user, p.key, p.profile, err, want[0], want[1])
		}
	}
	if _, err := m.place(SessionRequest{User: "zed"}, "sid"); KindOf(err) != KindInternal {
		t.Errorf("a user mapped to an undefined profile: %v", err)
	}
}

func TestLaunchConfMergeOrderAndAllowList(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Dial = DialWith(transport.Dial)
	cfg.SparkConf = map[string]string{"spark.a": "default", "spark.b": "default", "spark.executor.memory": "1g"}
	cfg.UserConf = map[string]map[string]string{"alice": {"spark.b": "user", "spark.executor.memory": "2g"}}
	cfg.SessionConfAllowList = []string{"spark.executor.*", "spark.c"}
	m := &Manager{cfg: cfg}
	got, err := m.launchConf("alice", map[string]string{
		"spark.executor.memory":          "4g",       // allowed: session wins
		"set:hiveconf:spark.c":           "session",  // allowed, HS2 prefix
		"spark.b":                        "session",  // not allowed: user value stays
		"spark.driver.extraJavaOptions":  "-Dx=evil", // not allowed
		"sparkbridge.engine.share.level": "USER",     // not a Spark conf
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"spark.a": "default", "spark.b": "user", "spark.c": "session", "spark.executor.memory": "4g"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("launch conf = %v, want %v", got, want)
	}
	bob, _ := m.launchConf("bob", nil)
	if bob["spark.b"] != "default" || bob["spark.executor.memory"] != "1g" {
		t.Fatalf("bob got alice's overrides: %v", bob)
	}
}

// recordingLauncher records the specs it was asked to launch.
type recordingLauncher struct {
	*fakeLauncher
	mu    sync.Mutex
	specs []Spec
}

func (r *recordingLauncher) Launch(ctx context.Context, spec Spec) (Process, error) {
	r.mu.Lock()
	r.specs = append(r.specs, spec)
	r.mu.Unlock()
	return r.fakeLauncher.Launch(ctx, spec)
}

func TestSessionConfReachesLaunch(t *testing.T) {
	l := &recordingLauncher{fakeLauncher: &fakeLauncher{t: t}}
	cfg := DefaultConfig()
	cfg.Dial = DialWith(transport.Dial)
	cfg.StartTimeout = 5 * time.Second
	m := NewManager(cfg, l, nil)
	defer m.Close(context.Background())
	if _, err := m.Open(context.Background(), SessionRequest{User: "alice", Conf: map[string]string{"spark.executor.cores": "3", "spark.jars": "/tmp/x.jar"}}); err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.specs) != 1 || l.specs[0].Conf["spark.executor.cores"] != "3" || l.specs[0].Conf["spark.jars"] != "" || l.specs[0].User != "alice" {
		t.Fatalf("specs = %+v", l.specs)
	}
}

// The auth provider's groups (LDAP membership, a token's claim) choose a user's GROUP engine
// and group routing; the bridge's groups map, an operator's choice, wins over them.
func TestPlacementByIdentityGroups(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ShareLevel = ShareGroup
	cfg.Groups = map[string]string{"alice": "analysts"}
	cfg.StaticEngines = map[string]StaticEngine{"shared": {Addr: "127.0.0.1:1"}}
	cfg.GroupEngines = map[string]string{"bi": "shared"}
	m := &Manager{cfg: cfg}
	for _, tc := range []struct {
		user   string
		groups []string
		key    string
		static string
	}{
		{"carol", []string{"etl", "bi"}, "group/etl", ""},
		{"dave", []string{"bi"}, "static/shared", "shared"},
		{"alice", []string{"etl"}, "group/analysts", ""},
		{"erin", nil, "group/erin", ""},
	} {
		p, err := m.place(SessionRequest{User: tc.user, Groups: tc.groups}, "sid")
		if err != nil || p.key != tc.key || p.static != tc.static {
			t.Errorf("%s in %v: %+v, %v; want key %s static %q", tc.user, tc.groups, p, err, tc.key, tc.static)
		}
	}
}
