package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sirupsen/logrus"

	"github.com/sparkbridge/sparkbridge/connectfront"
	"github.com/sparkbridge/sparkbridge/engine"
	"github.com/sparkbridge/sparkbridge/thriftfront"
)

// stopper is what the shutdown stops: the three listeners' servers and the engines.
type stopper struct {
	log     *logrus.Entry
	mgr     *engine.Manager
	handler *thriftfront.Handler
	tsrv    *thriftfront.Server
	tln     net.Listener
	hsrv    *http.Server             // nil when the HTTP transport is off
	hh      *thriftfront.HTTPHandler // nil when the HTTP transport is off
	csrv    *connectfront.Server
	grace   time.Duration // -shutdown-grace
}

// cutOffWindow is how long, after the drain, calls still in flight get to return once they
// have been told to stop (a long poll returns at once) before their connections close.
const cutOffWindow = 2 * time.Second

// shutdown drains and stops the bridge; sig delivers further signals (closing it is fine).
func (b *stopper) shutdown(sig <-chan os.Signal) {
	// Phase one, the drain, on all three listeners at once: no new connections on the binary
	// port and no new sessions on any transport, but the HTTP and Spark Connect listeners
	// stay open and every open session, on every transport, keeps working, so that work
	// already begun (an HS2 client's polls and fetches, PySpark's follow-up calls) can
	// finish. It ends when no call has been in flight on any transport and no session used
	// for a second, or when the grace period is over.
	b.mgr.Drain()
	b.tln.Close()
	drainStart := time.Now()
	quiet := func() bool {
		return b.csrv.InFlight() == 0 && b.tsrv.InFlight() == 0 && (b.hh == nil || b.hh.InFlight() == 0) && b.mgr.Quiet(time.Second)
	}
drain:
	for !quiet() && time.Since(drainStart) < b.grace {
		select {
		case <-sig:
			b.log.Warn("second signal: ending the drain now")
			break drain
		case <-time.After(100 * time.Millisecond):
		}
	}
	b.log.WithField("took", time.Since(drainStart).Round(time.Millisecond)).Info("drain over")
	// From here on a further signal exits at once: stopping engines and the metastore can
	// take a while, and an operator who insists must not wait for it.
	go func() {
		if _, ok := <-sig; !ok {
			return
		}
		b.log.Error("another signal during shutdown: exiting now")
		os.Exit(1)
	}()
	// One line per session with work still running (a finished result the client has not
	// closed is not cut off): who, over what, and what was running.
	for _, s := range b.mgr.Sessions(engine.Filter{State: engine.OpRunning}) {
		running := make([]string, 0, len(s.Operations))
		for _, op := range s.Operations {
			running = append(running, op.Kind+": "+truncate(op.Statement, 120))
		}
		b.log.WithFields(logrus.Fields{"user": s.User, "protocol": s.Protocol, "session": s.ID, "engine": s.EngineID,
			"operations": strings.Join(running, "; ")}).Warn("cutting off a session with work in flight at shutdown")
	}

	// Phase two, on every listener at once: cut off what is left. Spark Connect calls end
	// with ABORTED (clients must not retry); HTTP requests and binary calls in flight get
	// the cut-off window to return (a GetOperationStatus long poll returns at once), and
	// idle connections close at once.
	b.handler.StopWaiting()
	b.csrv.Abort()
	cutCtx, cancelCut := context.WithTimeout(context.Background(), cutOffWindow)
	defer cancelCut()
	var stopping sync.WaitGroup
	stopping.Add(3)
	go func() {
		defer stopping.Done()
		done := make(chan struct{})
		go func() { b.csrv.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-cutCtx.Done():
			b.csrv.Stop()
			<-done
		}
	}()
	go func() {
		defer stopping.Done()
		if b.hsrv != nil {
			_ = b.hsrv.Shutdown(cutCtx)
			_ = b.hsrv.Close()
		}
	}()
	go func() {
		defer stopping.Done()
		_ = b.tsrv.Shutdown(cutCtx)
	}()
	stopping.Wait()
	// Then stop every engine; the metastore stops last (deferred in run).
	b.handler.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = b.mgr.Close(ctx)
}

// truncate shortens s to at most n bytes, marking the cut, without splitting a UTF-8
// sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
