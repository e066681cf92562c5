package itest

import (
	"os"
	"testing"
)

// TestSIGTERMStopsEngines starts a second bridge, gives it two engines (two users), sends it
// SIGTERM and checks that it exits cleanly with no engine JVM left running.
func TestSIGTERMStopsEngines(t *testing.T) {
	dir, err := os.MkdirTemp(workDir, "sigterm-")
	if err != nil {
		t.Fatal(err)
	}
	b, err := startBridge(bridgeBin, dir, bridge.sparkHome, bridge.venv)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.cmd.Process.Kill() }()

	main := bridge
	bridge = b // the client helpers talk to the package's bridge variable
	defer func() { bridge = main }()
	if got := beeline(t, "erin", "SELECT 1 AS one"); len(got) != 2 || got[1] != "1" {
		t.Fatalf("beeline printed %q", got)
	}
	var rows [][]float64
	pyspark(t, &rows, "pyspark_query.py", connectURL("frank"), "SELECT 2")
	pids := b.enginePIDs()
	if len(pids) != 2 {
		t.Fatalf("second bridge runs engines %v, want 2", pids)
	}
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Fatalf("engine JVM %d still running after the bridge exited on SIGTERM; bridge log:\n%s", pid, b.logTail(20))
		}
	}
}
