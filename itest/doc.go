// Package itest holds sparkbridge's integration tests: the real sparkbridge binary, a real
// Spark (the pinned pyspark in the project venv) and real clients (beeline, PySpark Connect).
// Nothing here is faked.
//
// TestMain builds cmd/sparkbridge, starts it on free loopback ports and stops it when the
// package's tests end. The bridge launches one engine (a Spark Connect server, through
// spark-submit, bound to loopback, its secret passed in the environment) for the test user
// on first use, and every test of the package shares it. The bridge runs with a
// parent-death signal and launches engines with one too, so no JVM outlives a test binary
// that panics or is killed; TestMain also checks after a normal stop that no engine JVM is
// left.
//
// TestConsole drives the admin web console in a real headless browser, Debian's chromium
// package, through the Chrome DevTools Protocol (github.com/chromedp/chromedp), and saves a
// screenshot of each page under $SPARKBRIDGE_SCREENSHOT_DIR, by default the repository's
// var/screenshots; docs/console holds copies of them for the README.
//
// A missing dependency (no venv, no Java, no beeline, no chromium) fails the tests; nothing
// is skipped.
package itest
