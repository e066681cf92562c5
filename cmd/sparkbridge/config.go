package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/sparkbridge/sparkbridge/engine"
	"github.com/sparkbridge/sparkbridge/metastore"
)

// fileConfig is the JSON config file (-config). Every field is optional; flags given on the
// command line win over the file.
type fileConfig struct {
	ThriftAddr  string      `json:"thrift_addr"`
	ConnectAddr string      `json:"connect_addr"`
	Admin       adminConfig `json:"admin"`
	// AuditLog, Metrics and MetricsUserLabels match -audit-log, -metrics and
	// -metrics-user-labels.
	AuditLog          string        `json:"audit_log"`
	Metrics           *bool         `json:"metrics"`
	MetricsUserLabels *bool         `json:"metrics_user_labels"`
	Engine            engineConfig  `json:"engine"`
	Catalog           catalogConfig `json:"catalog"`

	// Kerberos matches the -kerberos-* flags; ProxyUserAllow, -proxy-user-allow (a user,
	// then the users it may act for, or "*").
	Kerberos       kerberosConfig      `json:"kerberos"`
	ProxyUserAllow map[string][]string `json:"proxy_user_allow"`
	// LDAP matches the -ldap-* flags of -auth LDAP.
	LDAP ldapFileConfig `json:"ldap"`
	// JWT is the "jwt" object: the -jwt-* settings of -auth JWT.
	JWT jwtFileConfig `json:"jwt"`

	// Limits holds the connection caps and deny lists (-max-connections-*, -deny-*).
	Limits limitsConfig `json:"limits"`
}

// adminConfig is the file's "admin" object; each key matches an -admin-* flag, and admins
// the -admins list.
type adminConfig struct {
	Addr        string   `json:"addr"`
	TLSCert     string   `json:"tls_cert"`
	TLSKey      string   `json:"tls_key"`
	Admins      []string `json:"admins"`
	EngineGrace duration `json:"engine_grace"`
}

// apply lays the file's admin settings under the flags (the caller re-applies the flags
// given on the command line afterwards).
func (ac adminConfig) apply(addr, cert, key, admins *string, grace *time.Duration) {
	for dst, v := range map[*string]string{addr: ac.Addr, cert: ac.TLSCert, key: ac.TLSKey} {
		if v != "" {
			*dst = v
		}
	}
	if ac.Admins != nil {
		*admins = strings.Join(ac.Admins, ",")
	}
	if ac.EngineGrace.set {
		*grace = ac.EngineGrace.d
	}
}

// kerberosConfig is the file's "kerberos" object; each key matches a -kerberos-* flag.
type kerberosConfig struct {
	Keytab      string `json:"keytab"`
	Principal   string `json:"principal"`
	AuthToLocal string `json:"auth_to_local"`
}

// apply lays the file's Kerberos settings under the flags.
func (kc kerberosConfig) apply(keytab, principal, rules *string) {
	for dst, v := range map[*string]string{keytab: kc.Keytab, principal: kc.Principal, rules: kc.AuthToLocal} {
		if v != "" {
			*dst = v
		}
	}
}

// proxyUserAllow is the file's proxy_user_allow map in -proxy-user-allow's form.
func proxyUserAllow(m map[string][]string) string {
	parts := make([]string, 0, len(m))
	for real, targets := range m {
		parts = append(parts, real+"="+strings.Join(targets, ","))
	}
	sort.Strings(parts)
	return strings.Join(parts, ";")
}

// catalogConfig is the file's "catalog" object; each key matches a flag.
type catalogConfig struct {
	Mode            string   `json:"mode"`
	DataDir         string   `json:"data_dir"`
	MetastoreURIs   string   `json:"metastore_uris"`
	WarehouseDir    string   `json:"warehouse_dir"`
	DBURL           string   `json:"db_url"`
	DBUser          string   `json:"db_user"`
	DBPasswordFile  string   `json:"db_password_file"`
	DriverJars      []string `json:"driver_jars"`
	MetastorePort   int      `json:"metastore_port"`
	MetastoreMemory string   `json:"metastore_memory"`
}

// apply lays the file's catalog settings under the flags (the caller re-applies the flags
// given on the command line afterwards).
func (cc catalogConfig) apply(mode, dataDir, uris, warehouse *string, mcfg *metastore.Config, jars *listFlag, pwFile *string) {
	for dst, v := range map[*string]string{mode: cc.Mode, dataDir: cc.DataDir, uris: cc.MetastoreURIs, warehouse: cc.WarehouseDir,
		&mcfg.DBURL: cc.DBURL, &mcfg.DBUser: cc.DBUser, pwFile: cc.DBPasswordFile, &mcfg.Memory: cc.MetastoreMemory} {
		if v != "" {
			*dst = v
		}
	}
	if cc.MetastorePort != 0 {
		mcfg.Port = cc.MetastorePort
	}
	*jars = append(*jars, cc.DriverJars...)
}

type engineConfig struct {
	SparkHome               string                         `json:"spark_home"`
	Master                  string                         `json:"master"`
	DeployMode              string                         `json:"deploy_mode"`
	RegisterURL             string                         `json:"register_url"`
	Detach                  string                         `json:"detach"`
	MasterUIURL             string                         `json:"master_ui_url"`
	YarnCommand             string                         `json:"yarn_cmd"`
	Kubectl                 string                         `json:"kubectl"`
	EngineJarURI            string                         `json:"engine_jar_uri"`
	DriverMemory            string                         `json:"driver_memory"`
	SparkConf               map[string]string              `json:"spark_conf"`
	MasterConf              map[string]map[string]string   `json:"master_conf"`
	UserConf                map[string]map[string]string   `json:"user_conf"`
	SessionConfAllowList    []string                       `json:"session_conf_allow_list"`
	ProxyUser               *bool                          `json:"proxy_user"`
	LogDir                  string                         `json:"log_dir"`
	StartTimeout            duration                       `json:"start_timeout"`
	ShareLevel              string                         `json:"share_level"`
	AllowShareLevelOverride *bool                          `json:"allow_share_level_override"`
	Groups                  map[string]string              `json:"groups"`
	Profiles                map[string]engine.Profile      `json:"profiles"`
	UserProfiles            map[string]string              `json:"user_profiles"`
	GroupProfiles           map[string]string              `json:"group_profiles"`
	StaticEngines           map[string]engine.StaticEngine `json:"static_engines"`
	UserEngines             map[string]string              `json:"user_engines"`
	GroupEngines            map[string]string              `json:"group_engines"`
	IdleTimeout             duration                       `json:"idle_timeout"`
	MaxLifetime             duration                       `json:"max_lifetime"`
	LivenessInterval        duration                       `json:"liveness_interval"`
	SessionIdleTimeout      duration                       `json:"session_idle_timeout"`
	OperationIdleTimeout    duration                       `json:"operation_idle_timeout"`
	MaxEngines              *int                           `json:"max_engines"`
	MaxSessionsPerUser      *int                           `json:"max_sessions_per_user"`
	MaxOperationsPerSession *int                           `json:"max_operations_per_session"`
}

// duration is a time.Duration written as a string such as "30s" or "10m"; "0s" turns a
// timeout off.
type duration struct {
	d   time.Duration
	set bool
}

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("durations are strings such as \"30s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	d.d, d.set = v, true
	return nil
}

func loadConfigFile(path string) (*fileConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var fc fileConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fc); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return &fc, nil
}

// apply lays the file's engine settings over cfg.
func (ec engineConfig) apply(cfg *engine.Config) error {
	setStr := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	setStr(&cfg.SparkHome, ec.SparkHome)
	setStr(&cfg.Master, ec.Master)
	setStr(&cfg.DeployMode, ec.DeployMode)
	setStr(&cfg.RegisterURL, ec.RegisterURL)
	setStr(&cfg.MasterUI, ec.MasterUIURL)
	setStr(&cfg.YarnCommand, ec.YarnCommand)
	setStr(&cfg.Kubectl, ec.Kubectl)
	setStr(&cfg.EngineJarURI, ec.EngineJarURI)
	setStr(&cfg.DriverMemory, ec.DriverMemory)
	setStr(&cfg.LogDir, ec.LogDir)
	for k, v := range ec.SparkConf {
		cfg.SparkConf[k] = v
	}
	if ec.MasterConf != nil {
		cfg.MasterConf = ec.MasterConf
	}
	if ec.UserConf != nil {
		cfg.UserConf = ec.UserConf
	}
	if ec.SessionConfAllowList != nil {
		cfg.SessionConfAllowList = ec.SessionConfAllowList
	}
	if ec.ProxyUser != nil {
		cfg.ProxyUser = *ec.ProxyUser
	}
	if ec.ShareLevel != "" {
		l, err := engine.ParseShareLevel(ec.ShareLevel)
		if err != nil {
			return err
		}
		cfg.ShareLevel = l
	}
	if ec.AllowShareLevelOverride != nil {
		cfg.AllowShareLevelOverride = *ec.AllowShareLevelOverride
	}
	if ec.Groups != nil {
		cfg.Groups = ec.Groups
	}
	if ec.Profiles != nil {
		cfg.Profiles = ec.Profiles
	}
	if ec.UserProfiles != nil {
		cfg.UserProfiles = ec.UserProfiles
	}
	if ec.GroupProfiles != nil {
		cfg.GroupProfiles = ec.GroupProfiles
	}
	for name, p := range cfg.Profiles {
		if p.SparkHome == "" {
			return fmt.Errorf("engine profile %q has no spark_home", name)
		}
		// Engines start in the log directory: relative paths would not find them there.
		var err error
		if p.SparkHome, err = filepath.Abs(p.SparkHome); err != nil {
			return err
		}
		jars := make([]string, len(p.Jars))
		for i, jar := range p.Jars {
			if jars[i], err = filepath.Abs(jar); err != nil {
				return err
			}
		}
		p.Jars = jars
		cfg.Profiles[name] = p
		if _, err := os.Stat(filepath.Join(p.SparkHome, "bin", "spark-submit")); err != nil {
			return fmt.Errorf("engine profile %q: no spark-submit under %s", name, p.SparkHome)
		}
		for _, jar := range p.Jars {
			if _, err := os.Stat(jar); err != nil {
				return fmt.Errorf("engine profile %q: jar %s: %w", name, jar, err)
			}
		}
	}
	for _, m := range []map[string]string{cfg.UserProfiles, cfg.GroupProfiles} {
		for who, name := range m {
			if _, ok := cfg.Profiles[name]; !ok {
				return fmt.Errorf("%s is mapped to engine profile %q, which profiles does not define", who, name)
			}
		}
	}
	if ec.StaticEngines != nil {
		cfg.StaticEngines = ec.StaticEngines
	}
	if ec.UserEngines != nil {
		cfg.UserEngines = ec.UserEngines
	}
	if ec.GroupEngines != nil {
		cfg.GroupEngines = ec.GroupEngines
	}
	for _, name := range ec.UserEngines {
		if _, ok := cfg.StaticEngines[name]; !ok {
			return fmt.Errorf("user_engines names static engine %q, which static_engines does not define", name)
		}
	}
	for _, name := range ec.GroupEngines {
		if _, ok := cfg.StaticEngines[name]; !ok {
			return fmt.Errorf("group_engines names static engine %q, which static_engines does not define", name)
		}
	}
	for dst, src := range map[*time.Duration]duration{
		&cfg.StartTimeout: ec.StartTimeout, &cfg.IdleTimeout: ec.IdleTimeout, &cfg.MaxLifetime: ec.MaxLifetime,
		&cfg.LivenessInterval: ec.LivenessInterval, &cfg.SessionIdleTimeout: ec.SessionIdleTimeout, &cfg.OperationIdleTimeout: ec.OperationIdleTimeout,
	} {
		if src.set {
			*dst = src.d
		}
	}
	for dst, src := range map[*int]*int{&cfg.MaxEngines: ec.MaxEngines, &cfg.MaxSessionsPerUser: ec.MaxSessionsPerUser, &cfg.MaxOperationsPerSession: ec.MaxOperationsPerSession} {
		if src != nil {
			*dst = *src
		}
	}
	return nil
}
