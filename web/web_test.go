package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

type fakeEngine struct {
	targets map[string]string
	samples []Sample
}

func (f *fakeEngine) Status() string { return "source local tcp!127.0.0.1!17034 embedded\n" }
func (f *fakeEngine) Targets() []string {
	return []string{"backup", "off\u00e9"}
}
func (f *fakeEngine) TargetStatus(name string) (string, bool) {
	s, ok := f.targets[name]
	return s, ok
}
func (f *fakeEngine) Jobs() []int { return []int{1, 2} }
func (f *fakeEngine) JobStatus(id int) (string, bool) {
	switch id {
	case 1:
		return "state done\ncmd ventiprog backup\nstarted 2026-12-03T01:00:00Z\nended 2026-12-03T01:00:30Z\nclumps 10\nbytes 100\nrate 3\n", true
	case 2:
		return "state running\ncmd trickle -R local <b>\nstarted 2026-12-03T01:00:00Z\nended -\nclumps 1\nbytes 2\nrate 1\n", true
	}
	return "", false
}
func (f *fakeEngine) RootScor() []byte { return []byte("vac:1 a\nvac:2 <script>\n") }
func (f *fakeEngine) LogRead(ctx context.Context, pos int64, max int) ([]byte, int64, error) {
	b := []byte(strings.Repeat("2026-12-03T00:00:00Z an old event\n", 3000) + "2026-12-03T01:00:00Z replfs started\n")
	if len(b) > max {
		b = b[:max]
	}
	return b, int64(len(b)), nil
}
func (f *fakeEngine) History(name string, since time.Time) []Sample {
	var out []Sample
	for _, s := range f.samples {
		if !s.Time.Before(since) {
			out = append(out, s)
		}
	}
	return out
}

const backupStatus = `name backup
addr tcp!backup!17034
state running
cursor arenas01 0x12156
sent arenas01 0x20000
lagbytes 2447123
lagclumps 412
lagdata 2668359
runclumps 5
runbytes 4000
totalclumps 529
totalbytes 4205745
corrupt 0
rate 123456
eta 2026-12-03T02:00:00Z
retries 3
lasterror 2026-12-03T00:10:00Z dial tcp!backup!17034: connection refused
lastsuccess 2026-12-02T23:00:00Z
rootscor -
`

func newServer() (*Server, *fakeEngine) {
	now := time.Date(2026, 12, 3, 1, 0, 0, 0, time.UTC)
	f := &fakeEngine{targets: map[string]string{
		"backup":    backupStatus,
		"off\u00e9": strings.Replace(strings.Replace(backupStatus, "name backup", "name off\u00e9", 1), "state running", "state idle", 1),
	}}
	for i := range 360 {
		f.samples = append(f.samples, Sample{Time: now.Add(-time.Hour + time.Duration(i)*10*time.Second), LagData: int64(1000 * i), Rate: 5})
	}
	return &Server{Engine: f, Now: func() time.Time { return now }, Venti: func() VentiStats {
		return VentiStats{Clumps: 941, CClumps: 105, Bytes: 6870104, StoredBytes: 6706993, Reads: 7, Writes: 941}
	}}, f
}

func getPage(t *testing.T, s *Server, path string) (string, *http.Response) {
	t.Helper()
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return string(b), res
}

// /metrics parses with Prometheus's own text parser, and its values are
// the status files'.
func TestMetrics(t *testing.T) {
	s, f := newServer()
	text, res := getPage(t, s, "/metrics")
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("content type %q", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("not Prometheus text: %v\n%s", err, text)
	}
	value := func(fam, target string) float64 {
		mf, ok := fams[fam]
		if !ok {
			t.Fatalf("no family %s", fam)
		}
		for _, m := range mf.Metric {
			for _, l := range m.Label {
				if l.GetName() == "target" && l.GetValue() == target {
					switch {
					case m.Gauge != nil:
						return m.Gauge.GetValue()
					case m.Counter != nil:
						return m.Counter.GetValue()
					}
				}
			}
		}
		t.Fatalf("%s has no target %s", fam, target)
		return 0
	}
	for _, tg := range []string{"backup", "off\u00e9"} {
		st := kv(f.targets[tg])
		num := func(k string) float64 { v, _ := strconv.ParseFloat(get(st, k), 64); return v }
		for fam, key := range map[string]string{
			"replfs_target_lag_bytes": "lagbytes", "replfs_target_lag_data_bytes": "lagdata", "replfs_target_lag_clumps": "lagclumps",
			"replfs_target_sent_bytes_total": "totalbytes", "replfs_target_sent_clumps_total": "totalclumps",
			"replfs_target_rate_bytes_per_second": "rate", "replfs_target_retries_total": "retries",
		} {
			if got, want := value(fam, tg), num(key); got != want {
				t.Errorf("%s{target=%q} = %v, status says %s %v", fam, tg, got, key, want)
			}
		}
		ls, _ := time.Parse(time.RFC3339, get(st, "lastsuccess"))
		if got := value("replfs_target_last_success_timestamp_seconds", tg); got != float64(ls.Unix()) {
			t.Errorf("last success %v, want %v", got, ls.Unix())
		}
	}
	for _, m := range fams["replfs_target_state"].Metric {
		var tg, st string
		for _, l := range m.Label {
			if l.GetName() == "target" {
				tg = l.GetValue()
			} else {
				st = l.GetValue()
			}
		}
		want := 0.0
		if get(kv(f.targets[tg]), "state") == st {
			want = 1
		}
		if m.Gauge.GetValue() != want {
			t.Errorf("state{%s,%s} = %v", tg, st, m.Gauge.GetValue())
		}
	}
	if v := fams["replfs_venti_blocks"].Metric[0].Gauge.GetValue(); v != 941 {
		t.Errorf("venti blocks %v", v)
	}
	if d := fams["replfs_job_duration_seconds"]; d == nil || d.Metric[0].Summary.GetSampleSum() != 30 || d.Metric[0].Summary.GetSampleCount() != 1 {
		t.Errorf("job durations: %v", d)
	}
}

// The pages escape what they show, refresh themselves, load nothing
// from elsewhere, and plot the history.
func TestPages(t *testing.T) {
	s, _ := newServer()
	idx, res := getPage(t, s, "/")
	for _, want := range []string{`http-equiv="refresh"`, `data-name="backup"`, `class="state running"`, "2668359", "trickle -R local &lt;b&gt;", "vac:2 &lt;script&gt;", "replfs started"} {
		if !strings.Contains(idx, want) {
			t.Errorf("/ lacks %q", want)
		}
	}
	if strings.Contains(idx, "<script") || strings.Contains(idx, "http://") || strings.Contains(idx, "https://") {
		t.Error("/ has a script or loads from elsewhere")
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	tp, _ := getPage(t, s, "/targets/backup")
	for _, want := range []string{`id="lag-hour"`, `data-points="360"`, "<polyline", `id="rate-week"`} {
		if !strings.Contains(tp, want) {
			t.Errorf("/targets/backup lacks %q", want)
		}
	}
	if _, res := getPage(t, s, "/targets/nosuch"); res.StatusCode != 404 {
		t.Errorf("unknown target: %d", res.StatusCode)
	}
	js, _ := getPage(t, s, "/status.json")
	var st struct {
		Targets map[string]map[string]string
		Jobs    []struct{ ID int }
	}
	if err := json.Unmarshal([]byte(js), &st); err != nil || st.Targets["backup"]["lagdata"] != "2668359" || len(st.Jobs) != 2 {
		t.Errorf("status.json: %v %+v", err, st)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("POST", "/", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", rec.Code)
	}
	_ = fmt.Sprint
}
