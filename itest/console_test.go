package itest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// screenshotDir is where TestConsole saves its screenshots: $SPARKBRIDGE_SCREENSHOT_DIR, or
// the repository's var/screenshots (var/ is not committed).
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SPARKBRIDGE_SCREENSHOT_DIR")
	if dir == "" {
		var err error
		if dir, err = filepath.Abs(filepath.Join("..", "var", "screenshots")); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browserCtx starts a headless Chromium (Debian's chromium package) for the test and returns
// a tab's context; the browser is stopped, and waited for, when the test ends. A missing
// chromium fails the test: the console's test needs a real browser.
func browserCtx(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is not installed (Debian's chromium package; .ci/run installs it): %v", err)
	}
	logf, err := os.Create(filepath.Join(workDir, "chromium.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		// This machine's network is closed: Chromium's own background connections would
		// only fail and retry.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
		chromedp.CombinedOutput(logf),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // kills the browser and waits for it
	})
	// The browser starts with the first action.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("starting chromium: %v (its log: %s)", err, logf.Name())
	}
	return ctx
}

// jsErrors collects the page's uncaught JavaScript exceptions.
type jsErrors struct {
	mu   sync.Mutex
	errs []string
}

func (j *jsErrors) watch(ctx context.Context) {
	thrown := chromedp.Events(ctx, runtime.ExceptionThrown)
	go func() {
		for ev, err := range thrown {
			if err != nil {
				return
			}
			msg := ev.ExceptionDetails.Text
			if ex := ev.ExceptionDetails.Exception; ex != nil {
				msg += " " + ex.Description
			}
			j.mu.Lock()
			j.errs = append(j.errs, msg)
			j.mu.Unlock()
		}
	}()
}

func (j *jsErrors) String() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return strings.Join(j.errs, "\n")
}

// acceptDialogs answers every confirm() of the page with OK, as an administrator who means
// it, and returns a func that lists the dialogs' messages so far.
func acceptDialogs(ctx context.Context, t *testing.T) func() []string {
	var mu sync.Mutex
	var seen []string
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			mu.Lock()
			seen = append(seen, ev.Message)
			mu.Unlock()
			if _, err := chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true}); err != nil {
				t.Logf("answering a dialog: %v", err)
			}
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

// js evaluates a JavaScript expression in the page.
func js[T any](ctx context.Context, t *testing.T, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// rowCells is the text of the cells of the table row that selector finds, or nil.
func rowCells(ctx context.Context, t *testing.T, selector string) []string {
	t.Helper()
	return js[[]string](ctx, t, fmt.Sprintf(`Array.from(document.querySelector(%q)?.cells ?? [], c => c.textContent.trim())`, selector))
}

// openPage loads a console page, waits for the element want, and saves a screenshot as name.
func openPage(ctx context.Context, t *testing.T, url, want, shots, name string) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(wctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(want))); err != nil {
		t.Fatalf("%s: %s never showed: %v", url, want, err)
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot of %s: %v", url, err)
	}
	if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitJS polls a boolean JavaScript expression until it holds, for up to d; an evaluation
// that fails (the page is navigating) counts as not yet.
func waitJS(ctx context.Context, t *testing.T, what, expr string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
			t.Fatalf("%s: not so after %s (%v); the page shows:\n%s", what, d, err, text)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestConsole drives the admin web console in a real headless Chromium against a bridge of its
// own with real clients: a failed beeline query is on the overview's recent failures; a
// minute-long beeline query and a PySpark query show on the overview, sessions, queries and
// engines pages with their user; a page of another origin cannot drain the bridge or cancel a
// query through the browser; clicking a query's Cancel button cancels it for its client.
// Screenshots of the four pages go to screenshotDir.
func TestConsole(t *testing.T) {
	started := time.Now()
	dir, err := os.MkdirTemp(workDir, "console-")
	if err != nil {
		t.Fatal(err)
	}
	b, err := startBridgeArgs(bridgeBin, dir, bridge.sparkHome, bridge.venv, map[string]string{}, "-catalog", "in-memory")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.cmd.Process.Kill() }()
	ctx := browserCtx(t)
	var jserrs jsErrors
	jserrs.watch(ctx)
	dialogs := acceptDialogs(ctx, t)
	console := "http://" + b.adminAddr

	const user = "analyst"
	// A failed query (it also launches the user's engine).
	if _, stderr, err := beelineTry(b.thriftAddr, user, "SELECT * FROM no_such_table"); err == nil {
		t.Fatal("a query of a table that does not exist succeeded")
	} else if !strings.Contains(stderr, "no_such_table") {
		t.Fatalf("the failing query failed otherwise:\n%s", tail(stderr, 10))
	}

	long := "SELECT reflect('java.lang.Thread', 'sleep', CAST(60000 AS BIGINT)) IS NULL AS slept, 42 AS answer"
	bl := startDrainClient(t, "beeline", "", filepath.Join(b.sparkHome, "bin", "beeline"),
		"-u", "jdbc:hive2://"+b.thriftAddr+"/default", "-n", user, "-p", "x", "--outputformat=csv2", "-e", long)
	py := startDrainClient(t, "pyspark", "", filepath.Join(b.venv, "bin", "python"),
		filepath.Join("testdata", "drain_client.py"), "pyspark", "sc://"+b.connectAddr+"/;user_id="+user, "60000")
	hop := waitRunning(t, b, bl, user, "thrift")
	cop := waitRunning(t, b, py, user, "connect")
	var engines struct {
		Engines []adminEngine `json:"engines"`
	}
	if code := adminCall(t, b, http.MethodGet, "/api/v1/engines?user="+user, &engines); code != http.StatusOK || len(engines.Engines) != 1 {
		t.Fatalf("the user's engines: %d %+v", code, engines)
	}
	eng := engines.Engines[0]
	shots := screenshotDir(t)

	// Overview: both protocols' running queries and the failure.
	openPage(ctx, t, console+"/", "table.failures", shots, "overview")
	counts := js[map[string]string](ctx, t, `Object.fromEntries(Array.from(document.querySelectorAll('.card'), c =>
		[c.querySelector('h2').textContent, Array.from(c.querySelectorAll('[data-count]'), d => d.dataset.count + '=' + d.textContent).join(' ')]))`)
	for name, want := range map[string]string{"HiveServer2": "sessions=1 running=1", "Spark Connect": "sessions=1 running=1", "Total": "sessions=2 running=2"} {
		if !strings.HasPrefix(counts[name], want) {
			t.Errorf("overview's %s card: %q, want %s ...", name, counts[name], want)
		}
	}
	if fr := rowCells(ctx, t, "table.failures tbody tr"); len(fr) != 5 || fr[1] != user || fr[2] != "HiveServer2" ||
		!strings.Contains(fr[3], "no_such_table") || !strings.Contains(fr[4], "no_such_table") {
		t.Errorf("overview's recent failure: %q", fr)
	}

	// Sessions: one of each protocol, with their Close buttons.
	openPage(ctx, t, console+"/sessions", `tr[data-session-id="`+hop.SessionID+`"]`, shots, "sessions")
	for id, protocol := range map[string]string{hop.SessionID: "HiveServer2", cop.SessionID: "Spark Connect"} {
		if c := rowCells(ctx, t, `tr[data-session-id="`+id+`"]`); len(c) < 8 || c[1] != user || c[2] != protocol || c[3] != eng.ID || c[7] != "Close" {
			t.Errorf("session %s as shown: %q", id, c)
		}
	}

	// Engines: the user's engine with its master, application, pid and sessions (a local
	// master has no cluster manager to show).
	openPage(ctx, t, console+"/engines", `tr[data-engine-id="`+eng.ID+`"]`, shots, "engines")
	if c := rowCells(ctx, t, `tr[data-engine-id="`+eng.ID+`"]`); len(c) < 12 || c[1] != user || c[3] != "ready" || c[4] != eng.Master ||
		!strings.HasPrefix(c[5], "local-") || c[6] != "—" || c[8] != fmt.Sprint(eng.PID) || c[10] != "2" || c[11] != "Drain" {
		t.Errorf("engine %s as shown: %q (API: %+v)", eng.ID, c, eng)
	}

	// Queries: both running, each with its user and a Cancel button.
	openPage(ctx, t, console+"/queries", `tr[data-op-id="`+hop.ID+`"]`, shots, "queries")
	for id, protocol := range map[string]string{hop.ID: "HiveServer2", cop.ID: "Spark Connect"} {
		if c := rowCells(ctx, t, `tr[data-op-id="`+id+`"]`); len(c) < 10 || c[0] != "RUNNING" || c[1] != user || c[2] != protocol || c[9] != "Cancel" {
			t.Errorf("query %s as shown: %q", id, c)
		}
	}
	if c := rowCells(ctx, t, `tr[data-op-id="`+hop.ID+`"]`); len(c) > 3 && !strings.Contains(c[3], "java.lang.Thread") {
		t.Errorf("beeline's statement as shown: %q", c[3])
	}

	// A page of another origin that the administrator's browser visits cannot act: a form
	// POST and a no-cors fetch to drain the bridge are refused by the bridge, a DELETE's
	// preflight finds no CORS. The query keeps running and the bridge keeps serving.
	mark := len(b.log())
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><title>evil</title><form method="POST" action="%[1]s/api/v1/drain"></form>
<script>
Promise.allSettled([
  fetch(%[1]q + "/api/v1/drain", {method: "POST", mode: "no-cors", credentials: "include"}),
  fetch(%[1]q + "/api/v1/operations/%[2]s", {method: "DELETE", credentials: "include"}),
]).then(() => { document.title = "sent"; document.forms[0].submit(); });
</script>`, console, hop.ID)
	}))
	defer evil.Close()
	ectx, cancel := context.WithTimeout(ctx, 30*time.Second)
	if err := chromedp.Do(ectx, chromedp.Navigate(strings.Replace(evil.URL, "127.0.0.1", "localhost", 1))); err != nil {
		t.Fatalf("the other origin's page: %v", err)
	}
	waitJS(ectx, t, "the other page's form post answered", `location.pathname === '/api/v1/drain'`, 20*time.Second)
	cancel()
	if body := js[string](ctx, t, `document.body.innerText`); !strings.Contains(body, "cross-origin request refused") {
		t.Errorf("the cross-origin form post was answered:\n%s", body)
	}
	if got := strings.Count(b.log()[mark:], "admin request from another origin refused"); got < 2 {
		t.Errorf("the bridge refused %d cross-origin requests, want the form post and the fetch", got)
	}
	var st struct {
		Status string `json:"status"`
	}
	if code := adminCall(t, b, http.MethodGet, "/readyz", &st); code != http.StatusOK {
		t.Fatalf("the bridge drains after another origin's page posted to it: %d %+v", code, st)
	}
	if ops := runningOps(t, b, user, "thrift"); len(ops) != 1 || ops[0].ID != hop.ID {
		t.Fatalf("beeline's query after another origin's DELETE: %+v", ops)
	}

	// Cancel beeline's query with its button on the queries page.
	if err := chromedp.Do(ctx, chromedp.Navigate(console+"/queries"), chromedp.WaitVisible(chromedp.CSS(`tr[data-op-id="`+hop.ID+`"] button`))); err != nil {
		t.Fatal(err)
	}
	clicked := time.Now()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`tr[data-op-id="`+hop.ID+`"] button`))); err != nil {
		t.Fatalf("clicking Cancel: %v", err)
	}
	select {
	case err := <-bl.done:
		out := bl.stdout.String() + bl.stderr.String()
		t.Logf("beeline saw its query cancelled %s after the click", time.Since(clicked).Round(time.Millisecond))
		if err == nil || !strings.Contains(out, "Error: Query was cancelled") {
			t.Errorf("beeline did not fail with a cancellation (%v):\n%s", err, tail(out, 20))
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("beeline still running 60 s after Cancel was clicked; dialogs %q; page:\n%s", dialogs(),
			js[string](ctx, t, `document.body.innerText`))
	}
	if d := dialogs(); len(d) != 1 || !strings.Contains(d[0], "Cancel "+user+"'s query") {
		t.Errorf("the confirmation asked: %q", d)
	}
	waitJS(ctx, t, "the flash says the query was cancelled", `document.getElementById('flash').textContent.includes('cancelled')`, 10*time.Second)
	// The page refreshes by itself: beeline's query leaves it (or shows CANCELED until its
	// client closes it); PySpark's still runs.
	waitJS(ctx, t, "the cancelled query leaves the running ones",
		fmt.Sprintf(`(document.querySelector('tr[data-op-id="%s"]')?.dataset.state ?? 'gone') !== 'RUNNING'`, hop.ID), 10*time.Second)
	if c := rowCells(ctx, t, `tr[data-op-id="`+cop.ID+`"]`); len(c) < 1 || c[0] != "RUNNING" {
		t.Errorf("PySpark's query after beeline's was cancelled: %q", c)
	}

	// And PySpark's, the same way.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`tr[data-op-id="`+cop.ID+`"] button`))); err != nil {
		t.Fatalf("clicking Cancel: %v", err)
	}
	select {
	case err := <-py.done:
		if out := py.stdout.String() + py.stderr.String(); err == nil || !strings.Contains(out, "OPERATION_CANCELED") {
			t.Errorf("PySpark did not fail with a cancellation (%v):\n%s", err, tail(out, 20))
		}
	case <-time.After(60 * time.Second):
		t.Fatal("PySpark still running 60 s after Cancel was clicked")
	}

	if e := jserrs.String(); e != "" {
		t.Errorf("the console's JavaScript threw:\n%s", e)
	}
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s; the test took %s", shots, time.Since(started).Round(time.Second))
}
