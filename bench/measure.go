package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sparkbridge/sparkbridge/hs2client"
)

// dataset is a parquet directory of rows × (5 BIGINT + 5 STRING of 12 characters).
type dataset struct {
	name string
	rows int64
	path string
}

func (d dataset) query() string { return fmt.Sprintf("SELECT * FROM parquet.`%s`", d.path) }

// wantSum is sum(b1): b1 is the row id, so every row must arrive exactly once to match it.
func (d dataset) wantSum() int64 { return d.rows * (d.rows - 1) / 2 }

func (d dataset) check(rows, sum int64) error {
	if rows != d.rows || sum != d.wantSum() {
		return fmt.Errorf("%s: got %d rows with sum(b1) %d, want %d rows with sum %d", d.name, rows, sum, d.rows, d.wantSum())
	}
	return nil
}

// ensureData writes the dataset with the engine unless a complete copy is already there.
func ensureData(ctx context.Context, c *connectClient, d dataset) error {
	if _, err := os.Stat(filepath.Join(d.path, "_SUCCESS")); err == nil {
		return nil
	}
	log.Infof("writing %s (%d rows) to %s", d.name, d.rows, d.path)
	cols := []string{"id AS b1", "id * 3 AS b2", "id % 1000 AS b3", "id * 7919 AS b4", "-id AS b5"}
	for i := 1; i <= 5; i++ {
		cols = append(cols, fmt.Sprintf("substr(sha2(concat('%d', id), 256), 1, 12) AS s%d", i, i))
	}
	q := fmt.Sprintf("INSERT OVERWRITE DIRECTORY '%s' USING parquet SELECT %s FROM range(0, %d, 1, 4)", d.path, strings.Join(cols, ", "), d.rows)
	_, err := c.sql(ctx, q, false)
	return err
}

func fmtSecs(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf("%.3f", x)
	}
	return strings.Join(parts, " ")
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func percentile(v []float64, p float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	i := int(p*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

// hs2Fetch returns a run that fetches all of d over HS2 at fetchSize and checks it. Runs
// share one connection and session, as a BI tool's do; session set-up is what G4 measures.
func hs2Fetch(ctx context.Context, addr string, d dataset, fetchSize int) func() error {
	return hs2FetchWith(ctx, addr, d, fetchSize)
}

// hs2FetchWith is hs2Fetch on a session that first runs the setup statements.
func hs2FetchWith(ctx context.Context, addr string, d dataset, fetchSize int, setup ...string) func() error {
	var c *hs2client.Client
	return func() error {
		if c == nil {
			var err error
			if c, err = hs2client.Dial(ctx, addr, hs2client.Options{User: "bench", Password: "bench"}); err != nil {
				return err
			}
			for _, stmt := range setup {
				if _, err := c.Query(ctx, stmt, 100); err != nil {
					return fmt.Errorf("%s: %w", stmt, err)
				}
			}
		}
		op, err := c.Execute(ctx, d.query(), true)
		if err != nil {
			return err
		}
		s, err := c.FetchAll(ctx, op, fetchSize)
		if err != nil {
			return err
		}
		return d.check(s.Rows, s.FirstSum)
	}
}

// connectCollect returns a run that collects all of d as Arrow over Spark Connect.
func connectCollect(ctx context.Context, c *connectClient, d dataset) func() error {
	return func() error {
		got, err := c.sql(ctx, d.query(), true)
		if err != nil {
			return err
		}
		return d.check(got.Rows, got.FirstSum)
	}
}

// latency times n round trips of f after n/10 warm-ups, in milliseconds.
func latency(name string, n int, f func() error) (*Latency, error) {
	l := &Latency{Name: name}
	if err := l.run(n/10, false, f); err != nil {
		return nil, err
	}
	if err := l.run(n, true, f); err != nil {
		return nil, err
	}
	l.summarize()
	return l, nil
}

// run makes n round trips of f, keeping their times in l.Samples if keep (not warm-ups).
func (l *Latency) run(n int, keep bool, f func() error) error {
	for i := 0; i < n; i++ {
		start := time.Now()
		if err := f(); err != nil {
			return fmt.Errorf("%s: %w", l.Name, err)
		}
		if keep {
			l.Samples = append(l.Samples, float64(time.Since(start).Microseconds())/1000)
		}
	}
	return nil
}

func (l *Latency) summarize() {
	l.P50, l.P99 = percentile(l.Samples, 0.50), percentile(l.Samples, 0.99)
	log.Infof("%-36s p50 %.2fms  p99 %.2fms  (%d samples)", l.Name, l.P50, l.P99, len(l.Samples))
}

// sampled is one target of an interleaved latency measurement.
type sampled struct {
	l *Latency
	f func() error
}

// interleaveLatency is latency for a group measured alternately: n/10 warm-ups and then n
// round trips per target, taken in blocks of block round trips, one block per target per
// round, each round starting one further along the group (as interleave does). Drift in
// the engine and the machine then touches every target alike, and block i of one target
// ran next to block i of each other (Latency.Block records the size for the report's
// paired interval).
func interleaveLatency(n, block int, group ...sampled) error {
	for _, keep := range []bool{false, true} {
		total := n
		if !keep {
			total = n / 10
		}
		for round, done := 0, 0; done < total; round, done = round+1, done+block {
			for j := range group {
				t := group[(round+j)%len(group)]
				if err := t.l.run(min(block, total-done), keep, t.f); err != nil {
					return err
				}
			}
		}
	}
	for _, t := range group {
		t.l.Block = block
		t.l.summarize()
	}
	return nil
}

// selectOneHS2 is one HS2 client's SELECT 1 round trip: execute, fetch, close.
func selectOneHS2(ctx context.Context, c *hs2client.Client) func() error {
	return func() error {
		s, err := c.Query(ctx, "SELECT 1", 1000)
		if err == nil && (s.Rows != 1 || s.FirstSum != 1) {
			err = fmt.Errorf("SELECT 1 gave %d rows summing to %d", s.Rows, s.FirstSum)
		}
		return err
	}
}

func selectOneConnect(ctx context.Context, c *connectClient) func() error {
	return func() error {
		got, err := c.sql(ctx, "SELECT 1L AS one", true)
		if err == nil && (got.Rows != 1 || got.FirstSum != 1) {
			err = fmt.Errorf("SELECT 1 gave %d rows summing to %d", got.Rows, got.FirstSum)
		}
		return err
	}
}

// jdbc compiles JdbcBench once and runs it against url.
func jdbc(cfg *config, url string, d dataset, fetchSize, warmup, reps int) (*Series, error) {
	classes := filepath.Join(cfg.out, "classes")
	cp := classes + ":" + filepath.Join(cfg.sparkHome, "jars", "*")
	if _, err := os.Stat(filepath.Join(classes, "JdbcBench.class")); err != nil {
		src, _ := filepath.Abs(filepath.Join("bench", "JdbcBench.java"))
		if out, err := exec.Command("javac", "-d", classes, "-cp", cp, src).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("javac JdbcBench: %v\n%s", err, out)
		}
	}
	cmd := exec.Command("java", "-Xmx2g", "-cp", cp, "JdbcBench", url, d.query(), fmt.Sprint(fetchSize), fmt.Sprint(warmup), fmt.Sprint(reps), fmt.Sprint(d.rows))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("JdbcBench %s: %v\n%s", url, err, tailBytes(stderr.Bytes()))
	}
	var s Series
	if err := json.Unmarshal(lastLine(out), &s); err != nil {
		return nil, fmt.Errorf("JdbcBench output %q: %w", out, err)
	}
	s.Median = median(s.Runs)
	return &s, nil
}

// pysparkBench runs bench/pyspark_bench.py against the named endpoints, alternately.
func pysparkBench(cfg *config, d dataset, targets map[string]string) (map[string]*Series, error) {
	args := []string{filepath.Join("bench", "pyspark_bench.py"), d.path, fmt.Sprint(cfg.warmup), fmt.Sprint(cfg.reps)}
	for _, name := range sortedKeys(targets) {
		args = append(args, name+"="+targets[name])
	}
	cmd := exec.Command(cfg.python(), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("pyspark_bench: %v\n%s", err, tailBytes(stderr.Bytes()))
	}
	res := map[string]*Series{}
	if err := json.Unmarshal(lastLine(out), &res); err != nil {
		return nil, fmt.Errorf("pyspark_bench output %q: %w", out, err)
	}
	for _, s := range res {
		s.Median = median(s.Runs)
	}
	return res, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// run is one measurement of an interleaved group.
type timed struct {
	s *Series
	f func() error
}

// interleave runs every measurement of a group once per round, warmup+reps rounds, so that
// drift in the machine (JIT, caches, page cache) touches them all alike. Each round starts
// one further along the group, so no measurement always follows the same other one.
func interleave(warmup, reps int, group ...timed) error {
	for i := 0; i < warmup+reps; i++ {
		for j := range group {
			r := group[(i+j)%len(group)]
			before := cpuTimes()
			start := time.Now()
			if err := r.f(); err != nil {
				return fmt.Errorf("%s: %w", r.s.Name, err)
			}
			secs := time.Since(start).Seconds()
			if i < warmup {
				r.s.Warmup = append(r.s.Warmup, secs)
				continue
			}
			r.s.Runs = append(r.s.Runs, secs)
			if r.s.CPU == nil {
				r.s.CPU = map[string]float64{}
			}
			for name, t := range cpuTimes() {
				r.s.CPU[name] += (t - before[name]) / float64(reps)
			}
		}
	}
	for _, r := range group {
		r.s.Median = median(r.s.Runs)
		log.Infof("%-36s median %.3fs  runs %v  cpu/run %v", r.s.Name, r.s.Median, fmtSecs(r.s.Runs), fmtCPU(r.s.CPU))
	}
	return nil
}

// watched are the processes whose CPU time each measured run records: the client (this
// process), the bridge and the engine or Spark Thrift Server.
var watched = map[string]int{"client": os.Getpid()}

// cpuTimes reads the user+system CPU seconds of every watched process.
func cpuTimes() map[string]float64 {
	out := map[string]float64{}
	for name, pid := range watched {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// Fields after the command name (which may hold spaces) start at state, field 3.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 13 {
			continue
		}
		var utime, stime float64
		fmt.Sscan(f[11], &utime)
		fmt.Sscan(f[12], &stime)
		out[name] = (utime + stime) / clockTicks
	}
	return out
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times; 100 on Linux.
const clockTicks = 100

func fmtCPU(cpu map[string]float64) string {
	var parts []string
	for _, k := range sortedKeys(cpu) {
		parts = append(parts, fmt.Sprintf("%s %.2fs", k, cpu[k]))
	}
	return strings.Join(parts, ", ")
}

func lastLine(b []byte) []byte {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return lines[len(lines)-1]
}

func tailBytes(b []byte) string {
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// concurrentFetches runs n HS2 clients fetching all of d at once and reports the wall time.
func concurrentFetches(ctx context.Context, addr string, d dataset, n, fetchSize int) (time.Duration, error) {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- hs2Fetch(ctx, addr, d, fetchSize)()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

// peakDuring resets the process's peak RSS, runs f and returns the new peak in MiB.
func peakDuring(pid int, f func() error) (float64, error) {
	if err := resetPeak(pid); err != nil {
		return 0, err
	}
	if err := f(); err != nil {
		return 0, err
	}
	_, hwm, err := memStat(pid)
	return float64(hwm) / (1 << 20), err
}

func httpGetToFile(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

// pprofTop renders the top of a CPU profile with go tool pprof.
func pprofTop(bin, profile string, n int) (string, error) {
	out, err := exec.Command("go", "tool", "pprof", "-top", fmt.Sprintf("-nodecount=%d", n), bin, profile).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("pprof: %v\n%s", err, out)
	}
	var keep []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "File:") || strings.HasPrefix(line, "Build ID:") || strings.HasPrefix(line, "Type:") || strings.HasPrefix(line, "Time:") {
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n"), nil
}
