package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"time"
)

// Series is one timed measurement: warm-up and measured runs, in seconds.
type Series struct {
	Name      string    `json:"name"`
	Dataset   string    `json:"dataset,omitempty"`
	Rows      int64     `json:"rows,omitempty"`
	FetchSize int       `json:"fetch_size,omitempty"`
	Warmup    []float64 `json:"warmup"`
	Runs      []float64 `json:"runs"`
	Median    float64   `json:"median"`
	// CPU is the mean CPU seconds per measured run of each watched process.
	CPU map[string]float64 `json:"cpu_s,omitempty"`
	// Error is why the measured server failed the runs, when it did.
	Error string `json:"error,omitempty"`
}

// Latency is a round-trip distribution, in milliseconds.
type Latency struct {
	Name    string    `json:"name"`
	P50     float64   `json:"p50_ms"`
	P99     float64   `json:"p99_ms"`
	Samples []float64 `json:"samples_ms"`
	// Block is the number of consecutive samples taken before the next target of an
	// interleaved group (interleaveLatency) took its turn; 0 when measured alone.
	Block int `json:"block,omitempty"`
}

// Ratio is one target of the issue, computed from measurements of this run.
type Ratio struct {
	ID      string  `json:"id"`
	What    string  `json:"what"`
	Formula string  `json:"formula"`
	Value   float64 `json:"value"`
	Unit    string  `json:"unit"`
	Target  string  `json:"target"`
	Met     bool    `json:"met"`
	Note    string  `json:"note,omitempty"`
	// CILow and CIHigh bound a 95% bootstrap interval of Value, for ratios of two
	// measurements of the same thing (G9); both 0 when there is none.
	CILow  float64 `json:"ci95_low,omitempty"`
	CIHigh float64 `json:"ci95_high,omitempty"`
}

// Profile is the top of a CPU profile of the bridge.
type Profile struct {
	Name string `json:"name"`
	Path string `json:"path"`
	Top  string `json:"top"`
}

// RunConfig is what a run was asked to do.
type RunConfig struct {
	Master         string `json:"master"`
	DriverMemory   string `json:"driver_memory"`
	Rows           int64  `json:"rows"`
	BigRows        int64  `json:"big_rows"`
	JDBCRows       int64  `json:"jdbc_rows"`
	Warmup         int    `json:"warmup"`
	Reps           int    `json:"reps"`
	BigWarmup      int    `json:"big_warmup"`
	BigReps        int    `json:"big_reps"`
	LatencySamples int    `json:"latency_samples"`
	Concurrent     int    `json:"concurrent"`
	FetchSize      int    `json:"fetch_size"`
	// OverheadSamples and OverheadReps size G9 (0: not measured).
	OverheadSamples int `json:"overhead_samples,omitempty"`
	OverheadReps    int `json:"overhead_reps,omitempty"`
}

// Report is everything one run measured.
type Report struct {
	Started  string              `json:"started"`
	Duration string              `json:"duration"`
	Machine  map[string]string   `json:"machine"`
	Versions map[string]string   `json:"versions"`
	Config   RunConfig           `json:"config"`
	Series   map[string]*Series  `json:"series"`
	Latency  map[string]*Latency `json:"latency"`
	Memory   map[string]float64  `json:"memory"`
	Ratios   []Ratio             `json:"ratios"`
	Profiles []Profile           `json:"profiles"`
}

func newReport(cfg *config) *Report {
	r := &Report{
		Started: time.Now().UTC().Format(time.RFC3339),
		Machine: map[string]string{
			"os": runtime.GOOS + "/" + runtime.GOARCH, "cpus": fmt.Sprint(runtime.NumCPU()),
			"cpu": cpuModel(), "memory": memTotal(), "kernel": command("uname", "-r"),
		},
		Versions: map[string]string{
			"go": runtime.Version(), "java": firstLine(command("java", "-version")),
			"spark": sparkVersion(cfg), "sparkbridge": command("git", "describe", "--always", "--dirty"),
		},
		Config: RunConfig{
			Master: cfg.master, DriverMemory: cfg.driverMemory, Rows: cfg.rows, BigRows: cfg.bigRows, JDBCRows: cfg.jdbcRows,
			Warmup: cfg.warmup, Reps: cfg.reps, BigWarmup: cfg.bigWarmup, BigReps: cfg.bigReps,
			LatencySamples: cfg.latencySamples, Concurrent: cfg.concurrent, FetchSize: cfg.fetchSize,
		},
		Series: map[string]*Series{}, Latency: map[string]*Latency{}, Memory: map[string]float64{},
	}
	if !cfg.skipOverhead {
		r.Config.OverheadSamples, r.Config.OverheadReps = cfg.overheadSamples, cfg.overheadReps
	}
	return r
}

// key names a series: measurement, dataset and, for HS2 fetches, fetch size.
func key(name, dataset string, fetchSize int) string {
	k := name + "." + dataset
	if fetchSize > 0 {
		k += fmt.Sprintf(".fs%d", fetchSize)
	}
	return k
}

// series registers a new measurement and returns it for timeRuns to fill.
func (r *Report) series(name string, d dataset, fetchSize int) *Series {
	s := &Series{Name: key(name, d.name, fetchSize), Dataset: d.name, Rows: d.rows, FetchSize: fetchSize}
	r.Series[s.Name] = s
	return s
}

func (r *Report) put(name string, d dataset, fetchSize int, s *Series) {
	s.Name, s.Dataset, s.Rows, s.FetchSize = key(name, d.name, fetchSize), d.name, d.rows, fetchSize
	r.Series[s.Name] = s
}

func (r *Report) med(k string) float64 {
	if s, ok := r.Series[k]; ok {
		return s.Median
	}
	return 0
}

// finish computes the ratios the issue sets targets for.
func (r *Report) finish() {
	small := fmt.Sprintf("%dk", r.Config.Rows/1000)
	big := fmt.Sprintf("%dk", r.Config.BigRows/1000)
	fs := r.Config.FetchSize
	sl, bl, jl := rowsLabel(r.Config.Rows), rowsLabel(r.Config.BigRows), rowsLabel(r.Config.JDBCRows)
	g := func(name string, ds string, f int) float64 {
		return r.med(key(name, ds, f))
	}
	add := func(id, what, formula string, num, den float64, unit, target string, met func(float64) bool) {
		if num == 0 || den == 0 {
			return
		}
		v := num / den
		r.Ratios = append(r.Ratios, Ratio{ID: id, What: what, Formula: formula, Value: v, Unit: unit, Target: target, Met: met(v)})
	}
	atLeast := func(t float64) func(float64) bool { return func(v float64) bool { return v >= t } }
	atMost := func(t float64) func(float64) bool { return func(v float64) bool { return v <= t } }

	add("G1", "Thrift bulk fetch, Go client, "+sl+" rows", "STS / bridge", g("sts.thrift.go", small, fs), g("bridge.thrift.go", small, fs), "×", "≥ 3×", atLeast(3))
	jd := fmt.Sprintf("%dk", r.Config.JDBCRows/1000)
	add("G1", "Thrift bulk fetch, Hive JDBC loop, "+jl+" rows", "STS / bridge", g("sts.thrift.jdbc", jd, fs), g("bridge.thrift.jdbc", jd, fs), "×", "≥ 3×", atLeast(3))
	if s := r.Series[key("sts.thrift.go", big, fs)]; s != nil && s.Error != "" {
		r.Ratios = append(r.Ratios, Ratio{ID: "G1", What: "Thrift bulk fetch, Go client, " + bl + " rows, STS defaults", Formula: "STS / bridge",
			Unit: "failed", Target: "≥ 3×", Met: true, Note: "STS failed: " + shortErr(s.Error)})
	} else {
		add("G1", "Thrift bulk fetch, Go client, "+bl+" rows, STS defaults", "STS / bridge", g("sts.thrift.go", big, fs), g("bridge.thrift.go", big, fs), "×", "≥ 3×", atLeast(3))
	}
	add("G1", "Thrift bulk fetch, Go client, "+bl+" rows, STS incrementalCollect", "STS / bridge", g("sts.incremental.thrift.go", big, fs), g("bridge.thrift.go", big, fs), "×", "≥ 3×", atLeast(3))
	// What a bridge that cost nothing would score: STS against the direct Arrow collect.
	ceiling := func(what string, num, den float64) {
		if num > 0 && den > 0 {
			r.Ratios = append(r.Ratios, Ratio{ID: "G1", What: what, Formula: "STS / direct Connect Arrow collect", Value: num / den, Unit: "×",
				Target: "≥ 3×", Met: num/den >= 3, Note: fmt.Sprintf("%.2f× (the most any bridge could score)", num/den)})
		}
	}
	ceiling("Ceiling of G1 on this machine, Go client, "+sl+" rows", g("sts.thrift.go", small, fs), g("direct.connect.go", small, 0))
	ceiling("Ceiling of G1 on this machine, Go client, "+bl+" rows, STS incrementalCollect", g("sts.incremental.thrift.go", big, fs), g("direct.connect.go", big, 0))
	add("G1b", "Arrow floor, "+sl+" rows", "bridge Thrift fetch / direct Connect Arrow collect", g("bridge.thrift.go", small, fs), g("direct.connect.go", small, 0), "×", "≤ 1.15×", atMost(1.15))
	add("G1b", "Arrow floor, "+bl+" rows", "bridge Thrift fetch / direct Connect Arrow collect", g("bridge.thrift.go", big, fs), g("direct.connect.go", big, 0), "×", "≤ 1.15×", atMost(1.15))
	add("G2", "Fetch-size robustness, "+sl+" rows", "fetch size 100 / 10,000", g("bridge.thrift.go", small, 100), g("bridge.thrift.go", small, fs), "×", "≤ 4×", atMost(4))
	add("G2", "Growth in rows (per row), fetch size 10,000", fmt.Sprintf("(%s time / %s time) / (%s / %s)", bl, sl, bl, sl),
		g("bridge.thrift.go", big, fs)*float64(r.Config.Rows), g("bridge.thrift.go", small, fs)*float64(r.Config.BigRows), "×", "≈ 1 (linear)", atMost(1.25))
	add("G2", "Growth in fetch size", "fetch size 100,000 / 10,000", g("bridge.thrift.go", small, 100_000), g("bridge.thrift.go", small, fs), "×", "≈ 1 (flat)", atMost(1.25))
	add("G3", "PySpark toPandas(), "+sl+" rows", "bridge / direct", g("bridge.pyspark.toPandas", small, 0), g("direct.pyspark.toPandas", small, 0), "×", "≤ 1.05", atMost(1.05))
	add("G3", "PySpark collect(), "+sl+" rows", "bridge / direct", g("bridge.pyspark.collect", small, 0), g("direct.pyspark.collect", small, 0), "×", "≤ 1.05", atMost(1.05))
	add("G3", "Go Arrow collect, "+sl+" rows", "bridge / direct", g("bridge.connect.go", small, 0), g("direct.connect.go", small, 0), "×", "≤ 1.05", atMost(1.05))
	if b, d := r.Latency["bridge.connect.select1"], r.Latency["direct.connect.select1"]; b != nil && d != nil {
		v := b.P50 - d.P50
		r.Ratios = append(r.Ratios, Ratio{ID: "G4", What: "SELECT 1 over Spark Connect, p50", Formula: "bridge p50 − direct p50", Value: v, Unit: "ms", Target: "≤ 1 ms", Met: v <= 1})
	}
	if b, s := r.Latency["bridge.thrift.select1"], r.Latency["sts.thrift.select1"]; b != nil && s != nil {
		add("G4", "SELECT 1 over HS2, p50", "bridge p50 / STS p50", b.P50, s.P50, "×", "≤ 1", atMost(1))
		add("G4", "SELECT 1 over HS2, p99", "bridge p99 / STS p99", b.P99, s.P99, "×", "≤ 1", atMost(1))
	}
	// G9: what metrics and the audit log cost, the same requests through a bridge with both
	// and through a bare one, alternately in one run.
	overhead := func(what, formula string, with, without []float64, block int, stat func([]float64) float64) {
		num, den := stat(with), stat(without)
		if num == 0 || den == 0 {
			return
		}
		v := num / den
		lo, hi := pairedCI(with, without, block, stat)
		r.Ratios = append(r.Ratios, Ratio{ID: "G9", What: what, Formula: formula, Value: v, Unit: "×", Target: "≤ 1.02×", Met: v <= 1.02,
			CILow: lo, CIHigh: hi})
	}
	p50 := func(v []float64) float64 { return percentile(v, 0.5) }
	for _, p := range []struct{ proto, label string }{{"thrift", "HS2"}, {"connect", "Spark Connect"}} {
		o, b := r.Latency["bridge.observed."+p.proto+".select1"], r.Latency["bridge.bare."+p.proto+".select1"]
		if o != nil && b != nil && len(o.Samples) > 0 && len(b.Samples) > 0 {
			overhead("Metrics + audit overhead, SELECT 1 over "+p.label+", p50",
				fmt.Sprintf("with / without (-metrics=false, no audit log), p50 of %d round trips each", len(o.Samples)), o.Samples, b.Samples, o.Block, p50)
		}
	}
	if o, b := r.Series[key("bridge.observed.thrift.go", small, fs)], r.Series[key("bridge.bare.thrift.go", small, fs)]; o != nil && b != nil && len(o.Runs) > 0 && len(b.Runs) > 0 {
		overhead("Metrics + audit overhead, Thrift bulk fetch, Go client, "+sl+" rows",
			fmt.Sprintf("with / without (-metrics=false, no audit log), median of %d runs each", len(o.Runs)), o.Runs, b.Runs, 1, median)
	}
	if b, s := r.Series["bridge.dbt.adapter"], r.Series["sts.dbt.adapter"]; b != nil && s != nil && b.Error == "" && s.Error == "" {
		add("G8", "dbt-spark adapter suite (dbt-tests-adapter, thrift), wall time, default poll interval", "bridge / STS",
			b.Median, s.Median, "×", "≤ 1.0×", atMost(1.0))
	}
	batch := r.Memory["arrow.max_batch_mib"]
	if p := r.Memory["bridge.thrift.go.peak_rss_mib"]; p > 0 {
		budget := 64 + 2*batch
		r.Ratios = append(r.Ratios, Ratio{ID: "G5", What: "Bridge peak RSS during G1 (1 open operation)", Formula: fmt.Sprintf("peak RSS; budget 64 MiB + 2 × %.1f MiB", batch), Value: p, Unit: "MiB", Target: fmt.Sprintf("≤ %.0f MiB", budget), Met: p <= budget})
	}
	if p := r.Memory["bridge.thrift.concurrent.peak_rss_mib"]; p > 0 {
		n := float64(r.Config.Concurrent)
		budget := 64 + 2*batch*n
		r.Ratios = append(r.Ratios, Ratio{ID: "G5", What: fmt.Sprintf("Bridge peak RSS, %.0f concurrent fetches", n), Formula: fmt.Sprintf("peak RSS; budget 64 MiB + %.0f × 2 × %.1f MiB", n, batch), Value: p, Unit: "MiB", Target: fmt.Sprintf("≤ %.0f MiB", budget), Met: p <= budget})
	}
}

// pairedCI is a 95% bootstrap interval of stat(with)/stat(without) for two series taken in
// turns: block i of each (block consecutive samples; 1 for runs of interleave) ran in the
// same round, so rounds are resampled whole, keeping each pair together. Drift between rounds
// then moves both sides of a resample alike and does not widen the interval. Seeded, so that
// -report-only recomputes the same interval.
func pairedCI(with, without []float64, block int, stat func([]float64) float64) (lo, hi float64) {
	block = max(block, 1)
	rounds := (min(len(with), len(without)) + block - 1) / block
	if rounds < 2 {
		return 0, 0
	}
	const resamples = 2000
	rng := rand.New(rand.NewPCG(9, 9))
	ratios := make([]float64, resamples)
	var a, b []float64
	for i := range ratios {
		a, b = a[:0], b[:0]
		for range rounds {
			k := rng.IntN(rounds)
			a = append(a, with[k*block:min((k+1)*block, len(with))]...)
			b = append(b, without[k*block:min((k+1)*block, len(without))]...)
		}
		ratios[i] = stat(a) / stat(b)
	}
	sort.Float64s(ratios)
	return ratios[resamples*25/1000], ratios[resamples*975/1000-1]
}

// rowsLabel is 1M for 1,000,000 rows, 100k for 100,000.
func rowsLabel(n int64) string {
	if n%1_000_000 == 0 {
		return fmt.Sprintf("%dM", n/1_000_000)
	}
	return fmt.Sprintf("%dk", n/1000)
}

// shortErr keeps the Java exception of a server error, or its first 120 characters.
func shortErr(e string) string {
	if i := strings.Index(e, "java.lang."); i >= 0 {
		e = e[i:]
	}
	if len(e) > 120 {
		e = e[:120] + "…"
	}
	return e
}

func (r *Report) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func (r *Report) writeMarkdown(path string) error {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("# sparkbridge benchmarks\n\n")
	w("Written by `make bench` on %s in %s. Raw timings: [`bench/results.json`](bench/results.json).\n", r.Started, r.Duration)
	w("Every ratio compares measurements of this one run on this one machine. A timed figure is the median of\n")
	w("%v measured runs after %v warm-ups (the %s variant: median of %v after %v).\n\n",
		r.Config.Reps, r.Config.Warmup, rowsLabel(r.Config.BigRows)+"-row", r.Config.BigReps, r.Config.BigWarmup)
	w("**Machine:** %s, %s CPUs (%s), %s, kernel %s.  \n", r.Machine["os"], r.Machine["cpus"], r.Machine["cpu"], r.Machine["memory"], r.Machine["kernel"])
	w("**Versions:** Spark %s, %s, %s, sparkbridge %s.  \n", r.Versions["spark"], r.Versions["java"], r.Versions["go"], r.Versions["sparkbridge"])
	w("**Setup:** the engine (Spark Connect server) and Spark Thrift Server run in turn from the same pyspark install with\n")
	w("`--master %s --driver-memory %s` and the same parquet files; each dataset is rows × (5 BIGINT + 5 STRING of 12\n", r.Config.Master, r.Config.DriverMemory)
	w("characters). Spark Thrift Server runs with its defaults (`incrementalCollect=false`) except where a row says\n")
	w("incrementalCollect. The bridge runs with metrics and the audit log on, as in production, and reaches the engine as\n")
	w("a static endpoint, so \"direct\" and \"bridge\" hit the same JVM. Every run checks its row count and sum(b1).\n\n")

	w("## Targets\n\n| id | what | formula | value | target | met |\n|---|---|---|---|---|---|\n")
	for _, x := range r.Ratios {
		met := "yes"
		if !x.Met {
			met = "**no**"
		}
		if x.Note != "" {
			met = "n/a"
		}
		val := fmt.Sprintf("%.2f%s", x.Value, x.Unit)
		switch {
		case x.Note != "":
			val = x.Note
		case x.Unit == "MiB" || x.Unit == "ms":
			val = fmt.Sprintf("%.2f %s", x.Value, x.Unit)
		case x.CIHigh > 0:
			val = fmt.Sprintf("%.3f%s (95%% CI %.3f–%.3f)", x.Value, x.Unit, x.CILow, x.CIHigh)
		}
		w("| %s | %s | %s | %s | %s | %s |\n", x.ID, x.What, x.Formula, val, x.Target, met)
	}

	w("\n## Timings\n\nCPU is seconds of user+system time per measured run, from /proc, of the client (the bench\n")
	w("process itself; PySpark and JDBC clients run in processes of their own and are not counted), the\n")
	w("bridge and the Spark JVM (engine or Spark Thrift Server).\n\n")
	w("| measurement | rows | fetch size | median (s) | runs (s) | CPU per run |\n|---|---|---|---|---|---|\n")
	for _, k := range sortedKeys(r.Series) {
		s := r.Series[k]
		fsz := "–"
		if s.FetchSize > 0 {
			fsz = fmt.Sprint(s.FetchSize)
		}
		if s.Error != "" {
			w("| `%s` | %d | %s | failed | %s | |\n", k, s.Rows, fsz, shortErr(s.Error))
			continue
		}
		w("| `%s` | %d | %s | %.3f | %s | %s |\n", k, s.Rows, fsz, s.Median, fmtSecs(s.Runs), fmtCPU(s.CPU))
	}
	w("\n## SELECT 1 round trips\n\n| path | p50 (ms) | p99 (ms) | samples |\n|---|---|---|---|\n")
	for _, k := range sortedKeys(r.Latency) {
		l := r.Latency[k]
		w("| `%s` | %.2f | %.2f | %d |\n", k, l.P50, l.P99, len(l.Samples))
	}
	w("\n## Memory\n\n| measurement | value |\n|---|---|\n")
	for _, k := range sortedKeys(r.Memory) {
		w("| `%s` | %.1f |\n", k, r.Memory[k])
	}
	w("\n## Where the bridge spends its CPU\n\nCPU profiles of the bridge (`-admin-addr`, /debug/pprof/), 10 s each, taken during repeated runs.\n")
	for _, p := range r.Profiles {
		w("\n### %s\n\n```\n%s\n```\n", p.Name, p.Top)
	}
	if notes, err := os.ReadFile("bench/NOTES.md"); err == nil {
		w("\n%s", notes)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func command(name string, args ...string) string {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

func firstLine(s string) string { return strings.SplitN(s, "\n", 2)[0] }

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func memTotal() string {
	b, _ := os.ReadFile("/proc/meminfo")
	var kb int64
	fmt.Sscanf(strings.TrimPrefix(firstLine(string(b)), "MemTotal:"), "%d", &kb)
	return fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
}

func sparkVersion(cfg *config) string {
	b, err := os.ReadFile("versions.env")
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "SPARK_VERSION="); ok {
				return v
			}
		}
	}
	return "unknown"
}
