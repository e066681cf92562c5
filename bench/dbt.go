package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// G8: dbt-spark's adapter suite (dbt-tests-adapter's classes that dbt-spark runs for its
// thrift profile, itest/testdata/dbt_adapter) through a HiveServer2 server, at dbt's default
// poll interval, timed from pytest's start to its end. Every statement dbt runs is short, so
// the time is mostly how soon a server lets a polling client see that a statement finished.

// dbtSuite runs the suite against the HS2 server at addr as user and returns its wall time.
// A run in which any test fails is an error: its time would not be comparable.
func dbtSuite(ctx context.Context, cfg *config, label, addr, user string) (float64, error) {
	dir := filepath.Join(cfg.out, "dbt-"+label)
	if err := os.RemoveAll(dir); err != nil {
		return 0, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	for _, f := range []string{"conftest.py", "test_adapter.py"} {
		b, err := os.ReadFile(filepath.Join(cfg.dbtSuite, f))
		if err != nil {
			return 0, err
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			return 0, err
		}
	}
	host, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithTimeout(ctx, 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(cfg.dbtVenv, "bin", "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DBT_SPARK_HOST="+host, "DBT_SPARK_PORT="+port, "DBT_SPARK_USER="+user, "DBT_SEND_ANONYMOUS_USAGE_STATS=false")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start).Seconds()
	if err != nil {
		return 0, fmt.Errorf("dbt adapter suite against %s: %v: %s", label, err, lastLine(out))
	}
	log.Infof("%-36s %.1fs  %s", "dbt adapter suite, "+label, took, strings.TrimSpace(string(lastLine(out))))
	return took, nil
}

// recordDbt runs the suite once and stores it as a one-run series.
func recordDbt(ctx context.Context, cfg *config, rep *Report, name, addr, user string) error {
	if cfg.dbtVenv == "" {
		return nil
	}
	took, err := dbtSuite(ctx, cfg, name, addr, user)
	s := &Series{Name: name, Runs: []float64{took}, Median: took}
	if err != nil {
		s.Error = firstLine(err.Error())
		log.WithError(err).Warn("dbt adapter suite failed; recorded")
	}
	rep.Series[name] = s
	return nil
}
