package main

import (
	"context"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"replfs/jobs"
	"replfs/venti/ventitest"
	"replfs/web"
)

// A week of lag samples on a fake clock, then a restart: the history
// file stays bounded and the target's page plots the same points
// before and after.
func TestHistoryPlotsAcrossRestart(t *testing.T) {
	state := t.TempDir()
	fx := filepath.Join(ventitest.Fixtures(t, "venti"), "arenas.part")
	open := func() *jobs.Engine {
		e, err := jobs.New(jobs.Options{StateDir: state, SampleEvery: -1,
			Embedded: &jobs.Source{Addr: "tcp!127.0.0.1!1", Partitions: []string{fx}, Flush: func(context.Context) error { return nil }}})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	e := open()
	addr, _ := ventitest.NewServer(t)
	if err := e.Exec(context.Background(), "target b "+addr); err != nil {
		t.Fatal(err)
	}
	end := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	for at := end.Add(-7 * 24 * time.Hour); !at.After(end); {
		e.SampleLag(at)
		if end.Sub(at) > time.Hour {
			at = at.Add(10 * time.Minute)
		} else {
			at = at.Add(jobs.SampleEvery)
		}
	}
	points := func(e *jobs.Engine) map[string]int {
		s := &web.Server{Engine: webEngine{e}, Now: func() time.Time { return end }}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", "/targets/b", nil))
		b, _ := io.ReadAll(rec.Body)
		out := map[string]int{}
		for _, m := range regexp.MustCompile(`<svg id="(lag-\w+)"[^>]*data-points="(\d+)"`).FindAllStringSubmatch(string(b), -1) {
			out[m[1]], _ = strconv.Atoi(m[2])
		}
		return out
	}
	before := points(e)
	if before["lag-hour"] < 355 || before["lag-hour"] > 362 || before["lag-week"] < 1000 || before["lag-week"] > 1400 || before["lag-day"] < 140 {
		t.Errorf("points before the restart: %v", before)
	}
	e.Close()
	st, err := os.Stat(filepath.Join(state, "targets", "b", "history"))
	if err != nil || st.Size() > 120<<10 {
		t.Errorf("history file: %v %d bytes", err, st.Size())
	}
	e = open()
	defer e.Close()
	if after := points(e); after["lag-hour"] != before["lag-hour"] || after["lag-week"] != before["lag-week"] {
		t.Errorf("points after the restart %v, before %v", after, before)
	}
}
