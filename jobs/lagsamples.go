package jobs

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A Sample is how far a target was behind, and how fast it was being
// sent to, at one moment.
type Sample struct {
	Time      time.Time
	LagBytes  int64 // clump log, as lagbytes
	LagClumps int64
	LagData   int64   // block bytes, as lagdata, less what a run has sent past the cursor
	Rate      float64 // block bytes a second, as rate
}

// SampleEvery is how often the engine samples each target.
const SampleEvery = 10 * time.Second

// The history is downsampled with age: every sample for the last hour,
// one a minute for the last day, one every 10 minutes for the week
// before that; nothing older. About 360+1440+864 samples a target.
var tiers = []struct {
	age, step time.Duration
}{
	{time.Hour, 0},
	{24 * time.Hour, time.Minute},
	{7 * 24 * time.Hour, 10 * time.Minute},
}

// A lagHistory is one target's samples, kept in a file of its
// directory (replaced whole, atomically, at each sample).
type lagHistory struct {
	mu        sync.Mutex
	path      string
	samples   []Sample      // oldest first
	saved     time.Time     // the newest sample in the file
	every     time.Duration // between saves; 0 is saveEvery
	compacted time.Time     // when downsample last ran
}

// saveEvery is how much sample time may pass between saves of the
// file; Close saves the rest.
const saveEvery = 5 * time.Minute

func historyFile(t *target) string { return filepath.Join(t.dir, "history") }

// loadHistory reads a history file; a missing or damaged one gives what
// could be read.
func loadHistory(path string) *lagHistory {
	h := &lagHistory{path: path}
	b, err := os.ReadFile(path)
	if err != nil {
		return h
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 5 || strings.HasPrefix(f[0], "#") {
			continue
		}
		var v [4]int64
		ok := true
		for i := range 4 {
			if v[i], err = strconv.ParseInt(f[i], 10, 64); err != nil {
				ok = false
			}
		}
		rate, err := strconv.ParseFloat(f[4], 64)
		if !ok || err != nil {
			continue
		}
		s := Sample{Time: time.Unix(v[0], 0).UTC(), LagBytes: v[1], LagClumps: v[2], LagData: v[3], Rate: rate}
		if n := len(h.samples); n == 0 || s.Time.After(h.samples[n-1].Time) {
			h.samples = append(h.samples, s)
		}
	}
	return h
}

// add appends s, downsamples, and saves the file if the last save is
// saveEvery old.
func (h *lagHistory) add(s Sample) error {
	h.mu.Lock()
	if n := len(h.samples); n > 0 && !s.Time.After(h.samples[n-1].Time) {
		h.mu.Unlock()
		return nil // the clock went back: keep the order
	}
	h.samples = append(h.samples, s)
	// Downsampling once a minute of samples keeps it bounded (a few
	// samples over) at a sixth of the work.
	if s.Time.Sub(h.compacted) >= time.Minute {
		h.samples = downsample(h.samples, s.Time)
		h.compacted = s.Time
	}
	every := h.every
	if every == 0 {
		every = saveEvery
	}
	due := s.Time.Sub(h.saved) >= every
	h.mu.Unlock()
	if !due {
		return nil
	}
	return h.save()
}

// save writes the file.
func (h *lagHistory) save() error {
	h.mu.Lock()
	text := h.text()
	newest := time.Time{}
	if n := len(h.samples); n > 0 {
		newest = h.samples[n-1].Time
	}
	h.mu.Unlock()
	if newest.IsZero() {
		return nil
	}
	if err := makeDir(filepath.Dir(h.path)); err != nil {
		return err
	}
	if err := writeAtomic(h.path, text); err != nil {
		return err
	}
	h.mu.Lock()
	h.saved = newest
	h.mu.Unlock()
	return nil
}

// saveHistories writes every history not saved since its last sample.
func (e *Engine) saveHistories() {
	e.hmu.Lock()
	hs := make([]*lagHistory, 0, len(e.hist))
	for _, h := range e.hist {
		hs = append(hs, h)
	}
	e.hmu.Unlock()
	for _, h := range hs {
		h.mu.Lock()
		dirty := len(h.samples) > 0 && h.samples[len(h.samples)-1].Time.After(h.saved)
		h.mu.Unlock()
		if dirty {
			if err := h.save(); err != nil {
				e.logf("history %s: %v", h.path, err)
			}
		}
	}
}

// downsample keeps, of the samples in each tier, one a step (the
// latest of each step), and drops those older than the last tier.
func downsample(ss []Sample, now time.Time) []Sample {
	step := func(s Sample) (time.Duration, bool) {
		age := now.Sub(s.Time)
		for _, t := range tiers {
			if age <= t.age {
				return t.step, true
			}
		}
		return 0, false
	}
	out := ss[:0]
	var lastStep time.Duration
	for _, s := range ss {
		st, keep := step(s)
		if !keep {
			continue
		}
		if n := len(out); n > 0 && st > 0 && lastStep == st && out[n-1].Time.Truncate(st).Equal(s.Time.Truncate(st)) {
			out[n-1] = s
			continue
		}
		out = append(out, s)
		lastStep = st
	}
	return out
}

func (h *lagHistory) text() []byte {
	var b bytes.Buffer
	b.WriteString("# replfs lag history: unix time, lagbytes, lagclumps, lagdata, rate\n")
	for _, s := range h.samples {
		fmt.Fprintf(&b, "%d %d %d %d %.0f\n", s.Time.Unix(), s.LagBytes, s.LagClumps, s.LagData, s.Rate)
	}
	return b.Bytes()
}

func (h *lagHistory) since(t time.Time) []Sample {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Sample
	for _, s := range h.samples {
		if !s.Time.Before(t) {
			out = append(out, s)
		}
	}
	return out
}

// history returns target t's history, loading it on first use.
func (e *Engine) history(t *target) *lagHistory {
	e.hmu.Lock()
	defer e.hmu.Unlock()
	if e.hist == nil {
		e.hist = map[string]*lagHistory{}
	}
	h, ok := e.hist[t.name]
	if !ok || h.path != historyFile(t) {
		h = loadHistory(historyFile(t))
		if n := len(h.samples); n > 0 {
			h.saved = h.samples[n-1].Time
		}
		e.hist[t.name] = h
	}
	return h
}

// SampleLag records every named target's lag and rate at now.
func (e *Engine) SampleLag(now time.Time) {
	e.mu.Lock()
	src, serr := e.currentSource()
	ts := e.targetList()
	e.mu.Unlock()
	if serr != nil {
		return
	}
	parts, err := e.partitions(src)
	if err != nil {
		return
	}
	for _, t := range ts {
		s := t.snapshot()
		l := lagOf(parts, s.cursor)
		if !l.known {
			continue
		}
		rate := s.rate
		if s.state != "running" {
			rate = 0
		}
		// While a run is under way what it has sent past the cursor is
		// on its way: the lag plotted is what is left to send.
		data := l.data
		if s.state == "running" {
			data = max(0, data-s.uncommitted)
		}
		if err := e.history(t).add(Sample{Time: now.UTC().Truncate(time.Second), LagBytes: l.bytes, LagClumps: l.clumps, LagData: data, Rate: rate}); err != nil {
			e.logf("target %s: history: %v", t.name, err)
		}
	}
}

// History returns the samples of the target named from since on.
func (e *Engine) History(name string, since time.Time) []Sample {
	e.mu.Lock()
	t, ok := e.targets[name]
	e.mu.Unlock()
	if !ok {
		return nil
	}
	return e.history(t).since(since)
}

// sampler samples every SampleEvery until the engine closes.
func (e *Engine) sampler() {
	every := e.opts.SampleEvery
	if every < 0 {
		return
	}
	if every == 0 {
		every = SampleEvery
	}
	tk := time.NewTicker(every)
	defer tk.Stop()
	for {
		select {
		case <-tk.C:
			e.SampleLag(e.opts.Now())
		case <-e.ctx.Done():
			return
		}
	}
}
