package engine

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procStart is the start time of process pid, in clock ticks since boot (field 22 of
// /proc/PID/stat): with the pid, it names one process, so that a recorded pid that the
// system has since given to another process is never taken for the engine.
func procStart(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("unreadable /proc/%d/stat", pid)
	}
	fields := strings.Fields(s[i+1:])
	// fields[0] is field 3 (state); field 22 is fields[19].
	if len(fields) < 20 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	return strconv.ParseUint(fields[19], 10, 64)
}

// orphanProcess is a detached client-mode engine that a previous bridge launched: a process
// of this host, leader of its own session and process group, that is not this bridge's
// child. Done is found by polling; Stop signals its process group, as for a child.
type orphanProcess struct {
	pid   int
	start uint64
	addr  string
	token string
	appID string
	grace time.Duration

	done chan struct{}
}

var _ Process = (*orphanProcess)(nil)

func (p *orphanProcess) Addr() string          { return p.addr }
func (p *orphanProcess) Token() string         { return p.token }
func (p *orphanProcess) PID() int              { return p.pid }
func (p *orphanProcess) Done() <-chan struct{} { return p.done }
func (p *orphanProcess) AppID() string         { return p.appID }

// alive reports whether the recorded process still runs.
func (p *orphanProcess) alive() bool {
	st, err := procStart(p.pid)
	return err == nil && st == p.start
}

// poll closes done when the process exits, or returns when ctx ends.
func (p *orphanProcess) poll(ctx context.Context) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		if !p.alive() {
			close(p.done)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Stop sends SIGTERM to the engine's process group, then SIGKILL after the grace period.
func (p *orphanProcess) Stop(ctx context.Context) error {
	if !p.alive() {
		return nil
	}
	_ = syscall.Kill(-p.pid, syscall.SIGTERM)
	deadline := time.NewTimer(p.grace)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for p.alive() {
		select {
		case <-deadline.C:
			if p.alive() {
				_ = syscall.Kill(-p.pid, syscall.SIGKILL)
			}
			return nil
		case <-ctx.Done():
			if p.alive() {
				_ = syscall.Kill(-p.pid, syscall.SIGKILL)
			}
			return nil
		case <-tick.C:
		}
	}
	return nil
}
