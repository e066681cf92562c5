package admin

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"time"

	"github.com/sparkbridge/sparkbridge/engine"
)

// consoleFiles are the web console's templates and assets, built into the binary: the
// console needs nothing from the network.
//
//go:embed console
var consoleFiles embed.FS

// consolePages are the console's pages, each with its path, title and how often its live
// part refreshes (seconds).
var consolePages = []struct {
	path, name, file string
	refresh          int
}{
	{"/", "Overview", "overview.html", 5},
	{"/sessions", "Sessions", "sessions.html", 5},
	{"/queries", "Queries", "queries.html", 2},
	{"/engines", "Engines", "engines.html", 5},
}

// consoleTemplates holds one template set per page: the layout and the page's content.
var consoleTemplates = func() map[string]*template.Template {
	funcs := template.FuncMap{
		"iso":     func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"clock":   clock,
		"ago":     func(t time.Time) string { return span(time.Since(t)) + " ago" },
		"since":   func(t time.Time) string { return span(time.Since(t)) },
		"took":    took,
		"seconds": func(s float64) string { return span(time.Duration(s * float64(time.Second))) },
		"short":   short,
		"proto":   protocolName,
	}
	out := map[string]*template.Template{}
	for _, p := range consolePages {
		out[p.file] = template.Must(template.New(p.file).Funcs(funcs).ParseFS(consoleFiles, "console/layout.html", "console/"+p.file))
	}
	return out
}()

// page is what the layout renders.
type page struct {
	Title   string
	Nav     []link
	State   string // the bridge's readiness: ready, starting, draining
	Refresh int
	Now     time.Time
	Data    any
}

type link struct {
	Name, Path string
	Current    bool
}

// consoleRoutes are the console's paths: its pages and its assets. They go through the
// API's authentication; the browser asks for an administrator's Basic credentials.
func (s *Server) consoleRoutes() []route {
	assets, _ := fs.Sub(consoleFiles, "console")
	static := http.StripPrefix("/static/", http.FileServerFS(assets))
	rs := []route{{pattern: "/static/{file}", methods: map[string]http.HandlerFunc{http.MethodGet: func(w http.ResponseWriter, r *http.Request) {
		if path.Ext(r.PathValue("file")) == ".html" { // templates are not assets
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		static.ServeHTTP(w, r)
	}}}}
	data := map[string]func(*http.Request) (any, error){
		"/":         s.overviewData,
		"/sessions": s.sessionsData,
		"/queries":  s.queriesData,
		"/engines":  s.enginesData,
	}
	for i, p := range consolePages {
		pattern := p.path
		if pattern == "/" {
			pattern = "/{$}"
		}
		get := data[p.path]
		rs = append(rs, route{pattern: pattern, methods: map[string]http.HandlerFunc{http.MethodGet: func(w http.ResponseWriter, r *http.Request) {
			d, err := get(r)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			s.render(w, i, d)
		}}})
	}
	return rs
}

// render writes page i of consolePages with data d.
func (s *Server) render(w http.ResponseWriter, i int, d any) {
	p := consolePages[i]
	pg := page{Title: p.name, State: s.state(), Refresh: p.refresh, Now: time.Now(), Data: d}
	for j, q := range consolePages {
		pg.Nav = append(pg.Nav, link{Name: q.name, Path: q.path, Current: i == j})
	}
	var buf bytes.Buffer
	if err := consoleTemplates[p.file].ExecuteTemplate(&buf, "layout", pg); err != nil {
		s.log.WithError(err).Error("console page failed to render")
		http.Error(w, "the page failed to render: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// Only the console's own files, no inline script, never in a frame (clickjacking).
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "+
		"frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	_, _ = buf.WriteTo(w)
}

// state is the bridge's readiness as /readyz reports it.
func (s *Server) state() string {
	switch {
	case s.reg.Draining():
		return "draining"
	case !s.ready.Load():
		return "starting"
	}
	return "ready"
}

// column is one protocol's figures on the overview, or their total.
type column struct {
	Name                             string
	Sessions, Running, Live, Engines int
}

type stateCount struct {
	State string
	N     int
}

// overviewFailures is how many recent failures the overview shows.
const overviewFailures = 20

func (s *Server) overviewData(*http.Request) (any, error) {
	cols := []column{{Name: protocolName("thrift")}, {Name: protocolName("connect")}, {Name: "Total"}}
	serving := []map[string]bool{{}, {}}
	for _, ss := range s.reg.Sessions(engine.Filter{}) {
		i := 0
		if ss.Protocol == "connect" {
			i = 1
		}
		serving[i][ss.EngineID] = true
		for _, c := range []*column{&cols[i], &cols[2]} {
			c.Sessions++
			c.Live += len(ss.Operations)
			for _, op := range ss.Operations {
				if op.State == engine.OpRunning {
					c.Running++
				}
			}
		}
	}
	engines := s.reg.Engines()
	cols[0].Engines, cols[1].Engines, cols[2].Engines = len(serving[0]), len(serving[1]), len(engines)
	var states []stateCount
	for _, st := range engineStates {
		n := 0
		for _, e := range engines {
			if e.State == st {
				n++
			}
		}
		if n > 0 {
			states = append(states, stateCount{st, n})
		}
	}
	var failures []Failure
	for _, f := range s.reg.RecentFailures(engine.Filter{}) {
		if len(failures) == overviewFailures {
			break
		}
		failures = append(failures, failureOf(f))
	}
	return struct {
		Columns      []column
		EngineStates []stateCount
		Failures     []Failure
	}{cols, states, failures}, nil
}

// sessionRow is a session on the sessions page.
type sessionRow struct {
	Session
	Running, Done int
}

func (s *Server) sessionsData(r *http.Request) (any, error) {
	f, bad := filter(r.URL.Query(), operationStates)
	if bad != "" {
		return nil, fmt.Errorf("%s", bad)
	}
	var rows []sessionRow
	for _, in := range s.reg.Sessions(f) {
		row := sessionRow{Session: sessionOf(in)}
		for _, op := range in.Operations {
			if op.State == engine.OpRunning {
				row.Running++
			} else {
				row.Done++
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func (s *Server) queriesData(r *http.Request) (any, error) {
	f, bad := filter(r.URL.Query(), operationStates)
	if bad != "" {
		return nil, fmt.Errorf("%s", bad)
	}
	var ops []Operation
	for _, in := range s.reg.Operations(f) {
		ops = append(ops, operationOf(in))
	}
	return struct {
		Operations []Operation
		Running    bool
		Filters    []link
	}{ops, f.State == engine.OpRunning, []link{
		{Name: "all live", Path: "/queries", Current: f.State == ""},
		{Name: "running", Path: "/queries?state=RUNNING", Current: f.State == engine.OpRunning},
	}}, nil
}

func (s *Server) enginesData(*http.Request) (any, error) {
	var es []Engine
	for _, in := range s.reg.Engines() {
		es = append(es, engineOf(in))
	}
	return struct {
		Engines []Engine
		Grace   string
	}{es, span(s.cfg.EngineDrainGrace)}, nil
}

// protocolName is how the console names a frontend.
func protocolName(p string) string {
	switch p {
	case "thrift":
		return "HiveServer2"
	case "connect":
		return "Spark Connect"
	}
	return p
}

// short is the first 8 characters of an id: enough to tell ids apart on a page.
func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// clock shows a time of today as 15:04:05, an older one with its date, in the bridge's time
// zone.
func clock(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	t = t.Local()
	if y, m, d := t.Date(); y == time.Now().Year() && m == time.Now().Month() && d == time.Now().Day() {
		return t.Format("15:04:05")
	}
	return t.Format("2006-01-02 15:04")
}

// took is how long an operation ran (finished nil: still running).
func took(started time.Time, finished *time.Time) string {
	end := time.Now()
	if finished != nil {
		end = *finished
	}
	return span(end.Sub(started))
}

// span shows a duration to the second, coarser as it grows: 42s, 3m 12s, 2h 05m, 3d 4h.
func span(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm %02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh %02dm", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd %dh", s/86400, s%86400/3600)
}
