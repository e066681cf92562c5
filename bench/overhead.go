package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/sparkbridge/sparkbridge/hs2client"
)

// G9: what metrics and the audit log cost. The measured bridge runs with both, as
// production does, and is scraped every second, as Prometheus would. A second bridge on the
// same engine runs with -metrics=false and no audit log ("bare"). The same requests go to
// both, alternately, in one run: SELECT 1 over HS2 and over Spark Connect (G4) and the Go
// client's Thrift fetch (G1).

// latencyBlock is how many SELECT 1 round trips one bridge makes before the other takes
// its turn: about a second, short against the engine's drift, long against a switch.
const latencyBlock = 50

// benchOverhead measures the overhead of metrics and audit on br (the measured bridge)
// against a bare bridge it starts on the same engine and stops when done.
func benchOverhead(ctx context.Context, cfg *config, rep *Report, br *bridgeProc, engAddr, tok string, small dataset) error {
	log.Info("starting a bare sparkbridge (-metrics=false, no audit log) for G9")
	bare, err := startBareBridge(cfg, engAddr, tok)
	if err != nil {
		return err
	}
	defer bare.stop()
	watched["bridge-bare"] = bare.pid()
	defer delete(watched, "bridge-bare")

	// Each bridge is what the ratio says it is.
	if err := checkStatus(ctx, "http://"+br.debug+"/metrics", http.StatusOK); err != nil {
		return fmt.Errorf("measured bridge: %w", err)
	}
	if err := checkStatus(ctx, "http://"+bare.debug+"/metrics", http.StatusNotFound); err != nil {
		return fmt.Errorf("bare bridge: %w", err)
	}
	if br.auditLog == "" || bare.auditLog != "" {
		return fmt.Errorf("G9 needs the measured bridge with an audit log and the bare one without")
	}
	linesBefore, err := countLines(br.auditLog)
	if err != nil {
		return err
	}

	// Fresh clients on both sides, so that neither carries state from earlier phases.
	type clients struct {
		hs2     *hs2client.Client
		connect *connectClient
	}
	dial := func(b *bridgeProc) (clients, error) {
		hc, err := hs2client.Dial(ctx, b.thrift, hs2client.Options{User: "bench", Password: "bench"})
		if err != nil {
			return clients{}, err
		}
		cc, err := dialConnect(b.connect, "", "bench")
		if err != nil {
			hc.Close()
			return clients{}, err
		}
		return clients{hc, cc}, nil
	}
	obs, err := dial(br)
	if err != nil {
		return err
	}
	defer obs.hs2.Close()
	defer obs.connect.Close()
	bc, err := dial(bare)
	if err != nil {
		return err
	}
	defer bc.hs2.Close()
	defer bc.connect.Close()

	sctx, stopScraping := context.WithCancel(ctx)
	sc := scrape(sctx, "http://"+br.debug+"/metrics", time.Second)
	start := time.Now()
	err = overheadRuns(ctx, cfg, rep, br, bare, obs.hs2, bc.hs2, obs.connect, bc.connect, small)
	stopScraping()
	scrapes, serr := sc.wait()
	if err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("scraping the measured bridge's /metrics: %w", serr)
	}
	linesAfter, err := countLines(br.auditLog)
	if err != nil {
		return err
	}
	// Every measured statement is an operation, and every operation a line.
	if lines := linesAfter - linesBefore; lines < 2*cfg.overheadSamples+cfg.overheadReps {
		return fmt.Errorf("the measured bridge's audit log took %d lines during G9, fewer than its %d statements", lines, 2*cfg.overheadSamples+cfg.overheadReps)
	}
	log.Infof("G9 took %s; the measured bridge was scraped %d times and wrote %d audit lines", time.Since(start).Round(time.Second), scrapes, linesAfter-linesBefore)
	return nil
}

// overheadRuns makes G9's measurements, each alternating between the two bridges.
func overheadRuns(ctx context.Context, cfg *config, rep *Report, br, bare *bridgeProc, obsHS2, bareHS2 *hs2client.Client,
	obsConnect, bareConnect *connectClient, small dataset) error {
	n := cfg.overheadSamples
	for _, proto := range []struct {
		name      string
		obs, bare func() error
	}{
		{"thrift", selectOneHS2(ctx, obsHS2), selectOneHS2(ctx, bareHS2)},
		{"connect", selectOneConnect(ctx, obsConnect), selectOneConnect(ctx, bareConnect)},
	} {
		o := &Latency{Name: "bridge.observed." + proto.name + ".select1"}
		b := &Latency{Name: "bridge.bare." + proto.name + ".select1"}
		if err := interleaveLatency(n, latencyBlock, sampled{o, proto.obs}, sampled{b, proto.bare}); err != nil {
			return err
		}
		rep.Latency[o.Name], rep.Latency[b.Name] = o, b
	}
	return interleave(cfg.warmup, cfg.overheadReps,
		timed{rep.series("bridge.observed.thrift.go", small, cfg.fetchSize), hs2Fetch(ctx, br.thrift, small, cfg.fetchSize)},
		timed{rep.series("bridge.bare.thrift.go", small, cfg.fetchSize), hs2Fetch(ctx, bare.thrift, small, cfg.fetchSize)},
	)
}

// scraper GETs a /metrics URL at a steady interval until its context ends, as Prometheus
// would, reading each answer whole. It is owned by whoever calls wait.
type scraper struct {
	done chan struct{}
	n    int   // scrapes that succeeded; read after done
	err  error // the first that failed; read after done
}

func scrape(ctx context.Context, url string, every time.Duration) *scraper {
	s := &scraper{done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if err := getMetrics(ctx, url); err != nil {
				if ctx.Err() == nil {
					s.err = err
				}
				return
			}
			s.n++
		}
	}()
	return s
}

// wait waits for the scraper to stop (its context must end) and reports what it did.
func (s *scraper) wait() (int, error) {
	<-s.done
	return s.n, s.err
}

// getMetrics is one scrape: the whole exposition, which must hold the bridge's operations.
func getMetrics(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if !bytes.Contains(b, []byte("sparkbridge_operations_finished_total")) {
		return fmt.Errorf("GET %s: no sparkbridge_operations_finished_total in %d bytes", url, len(b))
	}
	return nil
}

// checkStatus GETs url and wants status.
func checkStatus(ctx context.Context, url string, status int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != status {
		return fmt.Errorf("GET %s: %s, want %d", url, resp.Status, status)
	}
	return nil
}

// countLines counts the lines of a file; a missing file has none.
func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		n++
	}
	return n, sc.Err()
}
