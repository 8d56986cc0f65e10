// Package web serves replfs's pages over HTTP, read only: a status page
// that refreshes itself, a page per target with plots of its lag and
// rate over the last hour, day and week, the status files as JSON, and
// Prometheus metrics. Everything is drawn by replfs (HTML and SVG, a
// meta refresh, no script, nothing from elsewhere). It is fed by the
// engine through Engine, as package fs is.
package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Sample is a target's lag and rate at one time (jobs.Sample).
type Sample struct {
	Time      time.Time
	LagBytes  int64
	LagClumps int64
	LagData   int64
	Rate      float64
}

// Engine is what the pages show: the status files' text, and history.
type Engine interface {
	Status() string
	Targets() []string
	TargetStatus(name string) (string, bool)
	Jobs() []int
	JobStatus(id int) (string, bool)
	RootScor() []byte
	LogRead(ctx context.Context, pos int64, max int) ([]byte, int64, error)
	History(name string, since time.Time) []Sample
}

// Server is the HTTP handler. Now, if set, is the clock.
type Server struct {
	Engine Engine
	Now    func() time.Time
	// Venti, if set, gives the embedded venti's counts for /metrics.
	Venti func() VentiStats
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// ServeHTTP serves /, /targets/NAME, /status.json and /metrics; GET
// and HEAD only.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "read only", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'")
	switch p := r.URL.Path; {
	case p == "/":
		s.index(w, r)
	case strings.HasPrefix(p, "/targets/"):
		name := strings.TrimPrefix(p, "/targets/")
		if _, ok := s.Engine.TargetStatus(name); !ok {
			http.NotFound(w, r)
			return
		}
		s.target(w, r, name)
	case p == "/status.json":
		s.statusJSON(w)
	case p == "/metrics":
		s.metrics(w)
	default:
		http.NotFound(w, r)
	}
}

// kv parses a status file's "key value" lines, keeping their order.
func kv(text string) [][2]string {
	var out [][2]string
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		out = append(out, [2]string{k, v})
	}
	return out
}

func get(f [][2]string, key string) string {
	for _, p := range f {
		if p[0] == key {
			return p[1]
		}
	}
	return ""
}

type targetView struct {
	Name   string
	Fields [][2]string
	State  string
}

type jobView struct {
	ID     int
	State  string
	Cmd    string
	Fields [][2]string
}

func (s *Server) targets() []targetView {
	var out []targetView
	for _, n := range s.Engine.Targets() {
		st, ok := s.Engine.TargetStatus(n)
		if !ok {
			continue
		}
		f := kv(st)
		out = append(out, targetView{Name: n, Fields: f, State: get(f, "state")})
	}
	return out
}

func (s *Server) jobs(max int) []jobView {
	ids := s.Engine.Jobs()
	slices.Reverse(ids)
	var out []jobView
	for _, id := range ids {
		if len(out) >= max {
			break
		}
		st, ok := s.Engine.JobStatus(id)
		if !ok {
			continue
		}
		f := kv(st)
		out = append(out, jobView{ID: id, State: get(f, "state"), Cmd: get(f, "cmd"), Fields: f})
	}
	return out
}

func lastLines(b []byte, n int) []string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if len(lines) == 1 && lines[0] == "" {
		return nil
	}
	return lines
}

var page = template.Must(template.New("index").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="10">
<title>replfs</title>
<style>
body { font-family: sans-serif; margin: 1em 2em; }
table { border-collapse: collapse; margin-bottom: 1em; }
td, th { border: 1px solid #ccc; padding: 2px 6px; text-align: left; font-size: 90%; }
.failed { color: #b00; } .running { color: #060; }
pre { background: #f4f4f4; padding: 4px; font-size: 85%; overflow-x: auto; }
</style></head><body>
<h1>replfs</h1>
<p id="updated">{{.Now}}</p>
<h2>Source</h2><pre id="source">{{.Source}}</pre>
<h2>Targets</h2>
<table id="targets"><tr><th>target</th><th>state</th><th>cursor</th><th>lag</th><th>lag clumps</th><th>rate</th><th>eta</th><th>last success</th><th>last error</th></tr>
{{range .Targets}}<tr class="target" data-name="{{.Name}}"><td><a href="/targets/{{.Name}}">{{.Name}}</a></td><td class="state {{.State}}">{{.State}}</td>
<td>{{index .Map "cursor"}}</td><td class="lag">{{index .Map "lagdata"}}</td><td>{{index .Map "lagclumps"}}</td><td>{{index .Map "rate"}}</td><td>{{index .Map "eta"}}</td><td>{{index .Map "lastsuccess"}}</td><td>{{index .Map "lasterror"}}</td></tr>
{{end}}</table>
<h2>Jobs</h2>
<table id="jobs"><tr><th>job</th><th>state</th><th>command</th><th>clumps</th><th>bytes</th><th>rate</th></tr>
{{range .Jobs}}<tr class="job"><td>{{.ID}}</td><td class="state {{.State}}">{{.State}}</td><td>{{.Cmd}}</td><td>{{index .Map "clumps"}}</td><td>{{index .Map "bytes"}}</td><td>{{index .Map "rate"}}</td></tr>
{{end}}</table>
<h2>Root scores</h2><pre id="rootscor">{{range .Roots}}{{.}}
{{end}}</pre>
<h2>Log</h2><pre id="log">{{range .Log}}{{.}}
{{end}}</pre>
</body></html>
`))

type indexData struct {
	Now     string
	Source  string
	Targets []mapView
	Jobs    []mapView
	Roots   []string
	Log     []string
}

// mapView is a view with its fields as a map, for the template.
type mapView struct {
	Name  string
	ID    int
	State string
	Cmd   string
	Map   map[string]string
}

func toMap(f [][2]string) map[string]string {
	m := map[string]string{}
	for _, p := range f {
		m[p[0]] = p[1]
	}
	return m
}

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	d := indexData{Now: s.now().UTC().Format(time.RFC3339), Source: s.Engine.Status()}
	for _, t := range s.targets() {
		d.Targets = append(d.Targets, mapView{Name: t.Name, State: t.State, Map: toMap(t.Fields)})
	}
	for _, j := range s.jobs(20) {
		d.Jobs = append(d.Jobs, mapView{ID: j.ID, State: j.State, Cmd: j.Cmd, Map: toMap(j.Fields)})
	}
	d.Roots = lastLines(s.Engine.RootScor(), 10)
	ctx, cancel := context.WithTimeout(r.Context(), 100*time.Millisecond)
	defer cancel()
	// All that is kept (256 KB at most), for its newest lines.
	if b, _, err := s.Engine.LogRead(ctx, 0, 1<<20); err == nil {
		d.Log = lastLines(b, 30)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	page.Execute(w, d)
}

var targetPage = template.Must(template.New("target").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="10">
<title>replfs: {{.Name}}</title>
<style>body { font-family: sans-serif; margin: 1em 2em; } svg { border: 1px solid #ccc; margin: 4px; } td { padding: 1px 6px; font-size: 90%; }</style>
</head><body>
<h1><a href="/">replfs</a>: target {{.Name}}</h1>
<table id="status">{{range .Fields}}<tr><td>{{index . 0}}</td><td>{{index . 1}}</td></tr>{{end}}</table>
{{range .Plots}}<h2>{{.Title}}</h2>{{.SVG}}{{end}}
</body></html>
`))

type plot struct {
	Title string
	SVG   template.HTML
}

func (s *Server) target(w http.ResponseWriter, r *http.Request, name string) {
	st, _ := s.Engine.TargetStatus(name)
	now := s.now()
	var plots []plot
	for _, span := range []struct {
		name string
		d    time.Duration
	}{{"hour", time.Hour}, {"day", 24 * time.Hour}, {"week", 7 * 24 * time.Hour}} {
		ss := s.Engine.History(name, now.Add(-span.d))
		plots = append(plots,
			plot{"lag, last " + span.name, svgPlot("lag-"+span.name, ss, now.Add(-span.d), now, func(s Sample) float64 { return float64(s.LagData) }, "bytes")},
			plot{"rate, last " + span.name, svgPlot("rate-"+span.name, ss, now.Add(-span.d), now, func(s Sample) float64 { return s.Rate }, "bytes/s")})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	targetPage.Execute(w, struct {
		Name   string
		Fields [][2]string
		Plots  []plot
	}{name, kv(st), plots})
}

// svgPlot draws the samples' values over [from, to] as an SVG line.
func svgPlot(id string, ss []Sample, from, to time.Time, val func(Sample) float64, unit string) template.HTML {
	const W, H, pad = 600, 160, 40
	var max float64
	for _, s := range ss {
		max = math.Max(max, val(s))
	}
	if max == 0 {
		max = 1
	}
	span := to.Sub(from).Seconds()
	var pts strings.Builder
	for _, s := range ss {
		x := pad + (W-2*pad)*s.Time.Sub(from).Seconds()/span
		y := H - pad/2 - (H-pad)*val(s)/max
		fmt.Fprintf(&pts, "%.1f,%.1f ", x, y)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg id="%s" class="plot" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" data-points="%d">`, template.HTMLEscapeString(id), W, H, len(ss))
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#888"/>`, pad, H-pad/2, W-pad, H-pad/2)
	fmt.Fprintf(&b, `<text x="2" y="12" font-size="10">%s %s</text>`, template.HTMLEscapeString(human(max)), unit)
	fmt.Fprintf(&b, `<text x="2" y="%d" font-size="10">0</text>`, H-pad/2)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="10">%s</text>`, pad, H-2, from.UTC().Format("Jan 2 15:04"))
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="10" text-anchor="end">%s</text>`, W-pad, H-2, to.UTC().Format("Jan 2 15:04"))
	if len(ss) > 0 {
		fmt.Fprintf(&b, `<polyline fill="none" stroke="#06c" stroke-width="1.5" points="%s"/>`, strings.TrimSpace(pts.String()))
		if len(ss) < 100 {
			// Few points, close together: show each.
			for _, p := range strings.Fields(pts.String()) {
				x, y, _ := strings.Cut(p, ",")
				fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="2" fill="#06c"/>`, x, y)
			}
		}
	} else {
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="12">no samples yet</text>`, W/2-40, H/2)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func human(v float64) string {
	for _, u := range []string{"", "k", "M", "G", "T"} {
		if v < 1000 {
			return strconv.FormatFloat(v, 'f', 1, 64) + u
		}
		v /= 1000
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + "P"
}

func (s *Server) statusJSON(w http.ResponseWriter) {
	type job struct {
		ID     int               `json:"id"`
		Status map[string]string `json:"status"`
	}
	out := struct {
		Status  string                       `json:"status"`
		Targets map[string]map[string]string `json:"targets"`
		Jobs    []job                        `json:"jobs"`
	}{Status: s.Engine.Status(), Targets: map[string]map[string]string{}}
	for _, t := range s.targets() {
		out.Targets[t.Name] = toMap(t.Fields)
	}
	for _, j := range s.jobs(64) {
		out.Jobs = append(out.Jobs, job{j.ID, toMap(j.Fields)})
	}
	w.Header().Set("Content-Type", "application/json")
	e := json.NewEncoder(w)
	e.SetIndent("", "\t")
	e.Encode(out)
}
