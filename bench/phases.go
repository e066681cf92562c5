package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sparkbridge/sparkbridge/hs2client"
)

func datasets(cfg *config) (small, jdbcSet dataset, big *dataset) {
	small, jdbcSet = newDataset(cfg, cfg.rows), newDataset(cfg, cfg.jdbcRows)
	if cfg.bigRows > 0 {
		d := newDataset(cfg, cfg.bigRows)
		big = &d
	}
	return small, jdbcSet, big
}

func newDataset(cfg *config, rows int64) dataset {
	return dataset{name: fmt.Sprintf("%dk", rows/1000), rows: rows, path: filepath.Join(cfg.out, "data", fmt.Sprintf("rows_%d", rows))}
}

// benchEngine measures the bridge and direct Spark Connect against one engine.
func benchEngine(ctx context.Context, cfg *config, rep *Report) error {
	tok := newToken()
	log.Info("starting the Spark Connect engine")
	eng, engAddr, err := startEngine(cfg, tok)
	if eng != nil {
		defer eng.stop()
	}
	if err != nil {
		return err
	}
	watched["spark"] = eng.pid()
	defer delete(watched, "spark")
	direct, err := dialConnect(engAddr, tok, "bench")
	if err != nil {
		return err
	}
	defer direct.Close()
	if err := waitQuery(ctx, direct); err != nil {
		return err
	}
	small, jdbcSet, big := datasets(cfg)
	for _, d := range []*dataset{&small, &jdbcSet, big} {
		if d != nil {
			if err := ensureData(ctx, direct, *d); err != nil {
				return fmt.Errorf("writing %s: %w", d.name, err)
			}
		}
	}

	log.Info("starting sparkbridge")
	br, err := startBridge(cfg, engAddr, tok)
	if err != nil {
		return err
	}
	defer br.stop()
	watched["bridge"] = br.pid()
	defer delete(watched, "bridge")
	bridged, err := dialConnect(br.connect, "", "bench")
	if err != nil {
		return err
	}
	defer bridged.Close()

	// G5, one stream: the bridge's peak RSS over three bulk fetches, first thing after its
	// start, so that nothing measured before (Connect streams, 100,000-row pages) is in it.
	peak, err := peakDuring(br.pid(), func() error {
		fetch := hs2Fetch(ctx, br.thrift, small, cfg.fetchSize)
		for i := 0; i < 3; i++ {
			if err := fetch(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	rep.Memory["bridge.thrift.go.peak_rss_mib"] = peak

	// G1, G1b, G2 and the Connect proxy overhead, interleaved round by round.
	group := []timed{
		{rep.series("bridge.thrift.go", small, cfg.fetchSize), hs2Fetch(ctx, br.thrift, small, cfg.fetchSize)},
		{rep.series("direct.connect.go", small, 0), connectCollect(ctx, direct, small)},
		{rep.series("bridge.connect.go", small, 0), connectCollect(ctx, bridged, small)},
	}
	for _, fs := range []int{100, 1000, 100_000} {
		group = append(group, timed{rep.series("bridge.thrift.go", small, fs), hs2Fetch(ctx, br.thrift, small, fs)})
	}
	if err := interleave(cfg.warmup, cfg.reps, group...); err != nil {
		return err
	}
	if big != nil {
		if err := interleave(cfg.bigWarmup, cfg.bigReps,
			timed{rep.series("bridge.thrift.go", *big, cfg.fetchSize), hs2Fetch(ctx, br.thrift, *big, cfg.fetchSize)},
			timed{rep.series("direct.connect.go", *big, 0), connectCollect(ctx, direct, *big)},
		); err != nil {
			return err
		}
	}
	// G1 with Hive JDBC.
	js, err := jdbc(cfg, "jdbc:hive2://"+br.thrift+"/default", jdbcSet, cfg.fetchSize, cfg.warmup, cfg.reps)
	if err != nil {
		return err
	}
	rep.put("bridge.thrift.jdbc", jdbcSet, cfg.fetchSize, js)
	log.Infof("%-36s median %.3fs  runs %v", js.Name, js.Median, fmtSecs(js.Runs))

	// G3: PySpark through the bridge and direct, alternately.
	if !cfg.skipPySpark {
		_, enginePort, _ := net.SplitHostPort(engAddr)
		_, bridgePort, _ := net.SplitHostPort(br.connect)
		res, err := pysparkBench(cfg, small, map[string]string{
			"direct": fmt.Sprintf("sc://localhost:%s/;token=%s;user_id=bench", enginePort, tok),
			"bridge": fmt.Sprintf("sc://localhost:%s/;user_id=bench", bridgePort),
		})
		if err != nil {
			return err
		}
		for _, name := range sortedKeys(res) {
			target, action, _ := strings.Cut(name, ".")
			s := res[name]
			rep.put(target+".pyspark."+action, small, 0, s)
			log.Infof("%-36s median %.3fs  runs %v", s.Name, s.Median, fmtSecs(s.Runs))
		}
	}

	// G4: SELECT 1 round trips.
	if rep.Latency["direct.connect.select1"], err = latency("direct.connect.select1", cfg.latencySamples, selectOneConnect(ctx, direct)); err != nil {
		return err
	}
	if rep.Latency["bridge.connect.select1"], err = latency("bridge.connect.select1", cfg.latencySamples, selectOneConnect(ctx, bridged)); err != nil {
		return err
	}
	hc, err := hs2client.Dial(ctx, br.thrift, hs2client.Options{User: "bench", Password: "bench"})
	if err != nil {
		return err
	}
	rep.Latency["bridge.thrift.select1"], err = latency("bridge.thrift.select1", cfg.latencySamples, selectOneHS2(ctx, hc))
	hc.Close()
	if err != nil {
		return err
	}

	// G9: the overhead of metrics and audit, against a bare bridge on the same engine.
	if !cfg.skipOverhead {
		if err := benchOverhead(ctx, cfg, rep, br, engAddr, tok, small); err != nil {
			return fmt.Errorf("G9: %w", err)
		}
	}

	// G5: peak RSS during concurrent large fetches.
	var wall time.Duration
	peak, err = peakDuring(br.pid(), func() error {
		var err error
		wall, err = concurrentFetches(ctx, br.thrift, small, cfg.concurrent, cfg.fetchSize)
		return err
	})
	if err != nil {
		return err
	}
	rep.Memory["bridge.thrift.concurrent.peak_rss_mib"] = peak
	rep.Memory["bridge.thrift.concurrent.wall_s"] = wall.Seconds()
	log.Infof("%d concurrent fetches: %.1fs, bridge peak RSS %.1f MiB", cfg.concurrent, wall.Seconds(), peak)
	rep.Memory["arrow.max_batch_mib"] = float64(direct.maxBatch) / (1 << 20)

	// Profiles of the two hot paths, for BENCHMARKS.md.
	for _, p := range []struct {
		name string
		run  func() error
	}{
		{"thrift-fetch", hs2Fetch(ctx, br.thrift, small, cfg.fetchSize)},
		{"connect-forward", connectCollect(ctx, bridged, small)},
	} {
		path := filepath.Join(cfg.out, "cpu-"+p.name+".pprof")
		err := profileCPU(ctx, br.debug, path, 10, func() error {
			for end := time.Now().Add(9 * time.Second); time.Now().Before(end); {
				if err := p.run(); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("profile %s: %w", p.name, err)
		}
		top, err := pprofTop(cfg.bridgeBin, path, 20)
		if err != nil {
			return err
		}
		rep.Profiles = append(rep.Profiles, Profile{Name: p.name, Path: path, Top: top})
	}
	// G8, last: the dbt adapter suite creates and drops its own schemas.
	return recordDbt(ctx, cfg, rep, "bridge.dbt.adapter", br.thrift, "bench")
}

// benchSTS measures Spark Thrift Server on the same data.
func benchSTS(ctx context.Context, cfg *config, rep *Report) error {
	log.Info("starting Spark Thrift Server")
	sts, addr, err := startSTS(cfg)
	if sts != nil {
		defer sts.stop()
	}
	if err != nil {
		return err
	}
	watched["spark"] = sts.pid()
	defer delete(watched, "spark")
	// STS listens before its session manager is ready: wait for a session.
	var hc *hs2client.Client
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(time.Second) {
		if hc, err = hs2client.Dial(ctx, addr, hs2client.Options{User: "bench", Password: "bench"}); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("Spark Thrift Server: %w", err)
		}
	}
	small, jdbcSet, big := datasets(cfg)
	if err := interleave(cfg.warmup, cfg.reps,
		timed{rep.series("sts.thrift.go", small, cfg.fetchSize), hs2Fetch(ctx, addr, small, cfg.fetchSize)},
		timed{rep.series("sts.thrift.go", small, 100), hs2Fetch(ctx, addr, small, 100)},
	); err != nil {
		return err
	}
	js, err := jdbc(cfg, "jdbc:hive2://"+addr+"/default", jdbcSet, cfg.fetchSize, cfg.warmup, cfg.reps)
	if err != nil {
		return err
	}
	rep.put("sts.thrift.jdbc", jdbcSet, cfg.fetchSize, js)
	log.Infof("%-36s median %.3fs  runs %v", js.Name, js.Median, fmtSecs(js.Runs))
	rep.Latency["sts.thrift.select1"], err = latency("sts.thrift.select1", cfg.latencySamples, selectOneHS2(ctx, hc))
	hc.Close()
	if err != nil {
		return err
	}
	if err := recordDbt(ctx, cfg, rep, "sts.dbt.adapter", addr, "bench"); err != nil {
		return err
	}
	if big == nil {
		return nil
	}
	// The large variant. With its defaults (incrementalCollect=false) Spark Thrift Server
	// collects a whole result in the driver before the first fetch; with incremental collect
	// it runs a job per partition as the client fetches. Both are measured, the default last:
	// it may run the driver out of memory, which is a result, not a failure of the bench.
	incremental := hs2FetchWith(ctx, addr, *big, cfg.fetchSize, "SET spark.sql.thriftServer.incrementalCollect=true")
	if err := interleave(cfg.bigWarmup, cfg.bigReps, timed{rep.series("sts.incremental.thrift.go", *big, cfg.fetchSize), incremental}); err != nil {
		return err
	}
	s := rep.series("sts.thrift.go", *big, cfg.fetchSize)
	if err := interleave(cfg.bigWarmup, cfg.bigReps, timed{s, hs2Fetch(ctx, addr, *big, cfg.fetchSize)}); err != nil {
		s.Error = firstLine(err.Error())
		// A handler thread that runs out of heap drops the connection: the client sees EOF
		// and the reason is in the server's log.
		if b, rerr := os.ReadFile(sts.log); rerr == nil && bytes.Contains(b, []byte("java.lang.OutOfMemoryError")) {
			s.Error += " (Spark Thrift Server log: java.lang.OutOfMemoryError)"
		}
		log.WithError(err).Warn("Spark Thrift Server failed the large fetch; recorded")
	}
	return nil
}

// waitQuery waits until the engine answers SELECT 1.
func waitQuery(ctx context.Context, c *connectClient) error {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := selectOneConnect(qctx, c)()
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("engine did not answer SELECT 1: %w", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// benchG8 measures G8 alone, the bridge (over the same kind of engine as the full run) and
// Spark Thrift Server, and puts it into rep, a previous run's report.
func benchG8(ctx context.Context, cfg *config, rep *Report) error {
	tok := newToken()
	eng, engAddr, err := startEngine(cfg, tok)
	if eng != nil {
		defer eng.stop()
	}
	if err != nil {
		return err
	}
	direct, err := dialConnect(engAddr, tok, "bench")
	if err != nil {
		return err
	}
	err = waitQuery(ctx, direct)
	direct.Close()
	if err != nil {
		return err
	}
	br, err := startBridge(cfg, engAddr, tok)
	if err != nil {
		return err
	}
	err = recordDbt(ctx, cfg, rep, "bridge.dbt.adapter", br.thrift, "bench")
	br.stop()
	eng.stop()
	if err != nil {
		return err
	}
	sts, addr, err := startSTS(cfg)
	if sts != nil {
		defer sts.stop()
	}
	if err != nil {
		return err
	}
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(time.Second) {
		hc, err := hs2client.Dial(ctx, addr, hs2client.Options{User: "bench", Password: "bench"})
		if err == nil {
			hc.Close()
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("Spark Thrift Server: %w", err)
		}
	}
	return recordDbt(ctx, cfg, rep, "sts.dbt.adapter", addr, "bench")
}
