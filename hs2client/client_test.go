package hs2client_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sparkbridge/sparkbridge/engine"
	"github.com/sparkbridge/sparkbridge/engine/enginetest"
	"github.com/sparkbridge/sparkbridge/engine/transport"
	"github.com/sparkbridge/sparkbridge/hs2client"
	"github.com/sparkbridge/sparkbridge/thriftfront"
)

// serve starts the HS2 frontend over a fake engine and returns its address.
func serve(t *testing.T) string {
	t.Helper()
	spark := enginetest.Start(t)
	log := logrus.New()
	log.SetLevel(logrus.WarnLevel)
	entry := logrus.NewEntry(log)
	cfg := engine.DefaultConfig()
	cfg.Dial = engine.DialWith(transport.Dial)
	cfg.StartTimeout = 5 * time.Second
	mgr := engine.NewManager(cfg, engine.Static{Addr: spark.Addr}, entry)
	h := thriftfront.NewHandler(thriftfront.DefaultConfig(), mgr, entry)
	srv := thriftfront.NewServer(thriftfront.DefaultConfig(), h, entry)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ln.Close()
		srv.Close()
		h.Close()
		_ = mgr.Close(context.Background())
	})
	return ln.Addr().String()
}

// The page reader and the generated decoder see the same rows, whatever the page size,
// over SASL and over NOSASL.
func TestFetchAllCountsEveryRow(t *testing.T) {
	addr := serve(t)
	ctx := context.Background()
	const n = 25_003
	const want = int64(n) * (n - 1) / 2 // sum of the id column, 0..n-1
	for _, opt := range []hs2client.Options{{User: "alice", Password: "x"}, {User: "alice", NoSASL: true}} {
		for _, generated := range []bool{false, true} {
			c, err := hs2client.Dial(ctx, addr, opt)
			if err != nil {
				t.Fatal(err)
			}
			c.Generated = generated
			for _, fs := range []int{1, 999, 10_000, 100_000} {
				if fs == 1 && generated {
					continue // 25,003 round trips prove nothing more
				}
				op, err := c.Execute(ctx, "rows 25003", true)
				if err != nil {
					t.Fatal(err)
				}
				s, err := c.FetchAll(ctx, op, fs)
				if err != nil {
					t.Fatal(err)
				}
				if s.Rows != n || s.FirstSum != want {
					t.Errorf("nosasl=%v generated=%v fetch size %d: %d rows summing to %d, want %d and %d", opt.NoSASL, generated, fs, s.Rows, s.FirstSum, n, want)
				}
				if wantFetches := (n+fs-1)/fs + 1; s.Fetches != wantFetches {
					t.Errorf("fetch size %d: %d fetches, want %d (full pages, then an empty one)", fs, s.Fetches, wantFetches)
				}
			}
			c.Close()
		}
	}
}

// A failed statement's error reaches the caller with its SQLSTATE.
func TestExecuteError(t *testing.T) {
	addr := serve(t)
	c, err := hs2client.Dial(context.Background(), addr, hs2client.Options{User: "alice", Password: "x"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Query(context.Background(), "fail 42P01", 100)
	if err == nil || !strings.Contains(err.Error(), "42P01") {
		t.Fatalf("error %v, want one carrying SQLSTATE 42P01", err)
	}
}
