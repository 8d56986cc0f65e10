package jobs

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"replfs/venti/ventitest"
)

// A week of samples every 10 s on a fake clock: the history stays
// bounded (one a sample for the last hour, a minute for the day, ten
// minutes for the week) in memory and in its file, and survives a
// restart.
func TestLagHistory(t *testing.T) {
	state := t.TempDir()
	e := newEngineOpts(t, Options{StateDir: state, SampleEvery: -1})
	a, _ := ventitest.NewServer(t)
	if err := e.Exec(context.Background(), "target a "+a); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	const week = 7 * 24 * 360
	// A week and a day of samples; the last hour's taken from the
	// target, the rest made up (sampling reads the arenas' directories).
	e.mu.Lock()
	tg := e.targets["a"]
	e.mu.Unlock()
	e.history(tg).every = 24 * time.Hour // fewer file writes; Close saves the rest
	for i := range week + 360*24 {
		at := t0.Add(time.Duration(i) * SampleEvery)
		if i < week+360*23 {
			e.history(tg).add(Sample{Time: at, LagBytes: int64(i), LagClumps: 941})
		} else {
			e.SampleLag(at)
		}
	}
	end := t0.Add(time.Duration(week+360*24-1) * SampleEvery)
	all := e.History("a", time.Time{})
	if n := len(all); n < 2550 || n > 2670 {
		t.Errorf("%d samples kept, want about 360+1440+864", n)
	}
	if got := all[0].Time; end.Sub(got) > 7*24*time.Hour+10*time.Minute {
		t.Errorf("oldest sample %v, more than a week before %v", got, end)
	}
	hour := e.History("a", end.Add(-time.Hour))
	if n := len(hour); n < 355 || n > 361 {
		t.Errorf("%d samples in the last hour, want 360", n)
	}
	if s := hour[len(hour)-1]; s.LagClumps != 941 || s.LagData != 6870104 {
		t.Errorf("newest sample %+v", s)
	}
	e.Close()
	st, err := os.Stat(filepath.Join(state, "targets", "a", "history"))
	if err != nil || st.Size() > 200<<10 {
		t.Errorf("history file: %v, %d bytes", err, st.Size())
	}
	e2 := newEngineOpts(t, Options{StateDir: state, SampleEvery: -1})
	if got := e2.History("a", time.Time{}); len(got) != len(all) || !got[len(got)-1].Time.Equal(all[len(all)-1].Time) {
		t.Errorf("after a restart %d samples, want %d", len(got), len(all))
	}
}
