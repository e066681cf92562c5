// Command bench measures sparkbridge against Spark Thrift Server and against direct Spark
// Connect on one machine in one run, and writes BENCHMARKS.md and a JSON file of raw timings.
// `make bench` runs it; see BENCHMARKS.md for what each measurement means.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sirupsen/logrus"
)

type config struct {
	sparkHome, venv, bridgeBin, out string
	markdown, jsonPath              string
	master, driverMemory            string
	rows, bigRows, jdbcRows         int64
	warmup, reps                    int
	bigWarmup, bigReps              int
	latencySamples, concurrent      int
	fetchSize                       int
	// overheadSamples and overheadReps size G9: SELECT 1 round trips per bridge and
	// protocol, and G1 fetches per bridge.
	overheadSamples, overheadReps      int
	skipSTS, skipPySpark, skipOverhead bool
	reportOnly, onlyG8                 bool
	// dbtVenv is the venv with dbt-spark and dbt-tests-adapter ("" skips G8); dbtSuite the
	// directory of the suite's conftest.py and test module.
	dbtVenv, dbtSuite string
}

func (c *config) python() string { return filepath.Join(c.venv, "bin", "python") }

var log = logrus.New()

func main() {
	cfg := &config{}
	flag.StringVar(&cfg.sparkHome, "spark-home", os.Getenv("SPARK_HOME"), "Spark installation (the pinned pyspark)")
	flag.StringVar(&cfg.venv, "venv", ".venv", "the project venv (pyspark for G3)")
	flag.StringVar(&cfg.bridgeBin, "bridge", "bin/sparkbridge", "the sparkbridge binary to measure")
	flag.StringVar(&cfg.out, "out", "var/bench", "work directory: data, logs, profiles")
	flag.StringVar(&cfg.markdown, "markdown", "BENCHMARKS.md", "report to write")
	flag.StringVar(&cfg.jsonPath, "json", "bench/results.json", "raw results to write")
	flag.StringVar(&cfg.master, "master", "local[2]", "Spark master for the engine and for Spark Thrift Server")
	flag.StringVar(&cfg.driverMemory, "driver-memory", "6g", "driver memory for the engine and for Spark Thrift Server")
	flag.Int64Var(&cfg.rows, "rows", 1_000_000, "rows in the main dataset")
	flag.Int64Var(&cfg.bigRows, "big-rows", 10_000_000, "rows in the large variant (0: skip it)")
	flag.Int64Var(&cfg.jdbcRows, "jdbc-rows", 100_000, "rows for the Hive JDBC loop, which makes one GetOperationStatus round trip per row")
	flag.IntVar(&cfg.warmup, "warmup", 3, "warm-up runs per measurement")
	flag.IntVar(&cfg.reps, "reps", 5, "measured runs per measurement (the median is reported)")
	flag.IntVar(&cfg.bigWarmup, "big-warmup", 1, "warm-up runs on the large variant")
	flag.IntVar(&cfg.bigReps, "big-reps", 3, "measured runs on the large variant")
	flag.IntVar(&cfg.latencySamples, "latency-samples", 300, "SELECT 1 round trips per target for G4")
	flag.IntVar(&cfg.concurrent, "concurrent", 20, "concurrent large fetches for G5")
	flag.IntVar(&cfg.fetchSize, "fetch-size", 10_000, "HS2 fetch size for G1")
	flag.IntVar(&cfg.overheadSamples, "overhead-samples", 2000, "G9, the overhead of metrics and audit: SELECT 1 round trips per bridge (with and without) and protocol")
	flag.IntVar(&cfg.overheadReps, "overhead-reps", 60, "G9: G1 fetches per bridge (with and without metrics and audit), after -warmup")
	flag.BoolVar(&cfg.skipSTS, "skip-sts", false, "skip Spark Thrift Server (for quick iterations; the report then lacks G1)")
	flag.BoolVar(&cfg.skipPySpark, "skip-pyspark", false, "skip PySpark (for quick iterations; the report then lacks most of G3)")
	flag.BoolVar(&cfg.skipOverhead, "skip-overhead", false, "skip G9, the overhead of metrics and audit (for quick iterations; it takes about 5 minutes)")
	flag.StringVar(&cfg.dbtVenv, "dbt-venv", ".venv-dbt", "the venv with dbt-spark and dbt-tests-adapter, for G8 (empty: skip G8)")
	flag.StringVar(&cfg.dbtSuite, "dbt-suite", "itest/testdata/dbt_adapter", "the dbt adapter suite G8 runs")
	flag.BoolVar(&cfg.onlyG8, "only-g8", false, "measure G8 alone (bridge and Spark Thrift Server in this run) and put it into the report in -json")
	flag.BoolVar(&cfg.reportOnly, "report-only", false, "measure nothing: recompute the ratios in -json and rewrite -markdown from it")
	flag.Parse()
	log.SetFormatter(&logrus.TextFormatter{FullTimestamp: true})

	if err := run(cfg); err != nil {
		log.WithError(err).Error("bench failed")
		os.Exit(1)
	}
}

func run(cfg *config) error {
	if cfg.reportOnly {
		b, err := os.ReadFile(cfg.jsonPath)
		if err != nil {
			return err
		}
		var rep Report
		if err := json.Unmarshal(b, &rep); err != nil {
			return fmt.Errorf("%s: %w", cfg.jsonPath, err)
		}
		// Ratios are derived from the measurements: compute them again, in both files.
		rep.Ratios = nil
		rep.finish()
		if err := rep.writeJSON(cfg.jsonPath); err != nil {
			return err
		}
		return rep.writeMarkdown(cfg.markdown)
	}
	if cfg.sparkHome == "" {
		return fmt.Errorf("no Spark: pass -spark-home or set SPARK_HOME (make bench does)")
	}
	if cfg.dbtVenv != "" {
		abs, err := filepath.Abs(cfg.dbtVenv)
		if err != nil {
			return err
		}
		cfg.dbtVenv = abs
		if _, err := os.Stat(filepath.Join(abs, "bin", "python")); err != nil {
			return fmt.Errorf("G8 needs the dbt venv %s (run 'make clients', or pass -dbt-venv ''): %w", abs, err)
		}
	}
	for _, p := range []*string{&cfg.sparkHome, &cfg.venv, &cfg.bridgeBin, &cfg.out, &cfg.dbtSuite} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return err
	}
	rep := newReport(cfg)
	ctx := context.Background()
	start := time.Now()
	if cfg.onlyG8 {
		b, err := os.ReadFile(cfg.jsonPath)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, rep); err != nil {
			return fmt.Errorf("%s: %w", cfg.jsonPath, err)
		}
		if err := benchG8(ctx, cfg, rep); err != nil {
			return err
		}
		rep.Ratios = nil
		rep.finish()
		if err := rep.writeJSON(cfg.jsonPath); err != nil {
			return err
		}
		return rep.writeMarkdown(cfg.markdown)
	}

	if err := benchEngine(ctx, cfg, rep); err != nil {
		return err
	}
	if !cfg.skipSTS {
		if err := benchSTS(ctx, cfg, rep); err != nil {
			return err
		}
	}
	rep.Duration = time.Since(start).Round(time.Second).String()
	rep.finish()
	if err := rep.writeJSON(cfg.jsonPath); err != nil {
		return err
	}
	if err := rep.writeMarkdown(cfg.markdown); err != nil {
		return err
	}
	log.Infof("wrote %s and %s in %s", cfg.markdown, cfg.jsonPath, rep.Duration)
	return nil
}

func newToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
