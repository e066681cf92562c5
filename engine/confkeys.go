package engine

import "path"

// MatchConf reports whether key is one of patterns: exact Spark conf keys, or path.Match
// patterns such as spark.executor.* or *password*. The session conf allow-list, the Spark
// Connect frontend's protected confs and the audit log's redaction all match keys with it.
func MatchConf(patterns []string, key string) bool {
	for _, pat := range patterns {
		if pat == key {
			return true
		}
		if ok, _ := path.Match(pat, key); ok {
			return true
		}
	}
	return false
}

// ProtectedConf returns the default protected Spark conf keys and patterns: clients can
// neither read nor change them, and no log shows their values. They are the engine secret
// and anything named like a password, secret, token or credentials.
func ProtectedConf() []string {
	return []string{"spark.connect.authenticate.token", "*password*", "*secret*", "*token*", "*credentials*"}
}
