package jobs

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"replfs/venti/ventitest"
)

// holder is a test hook that holds the writes it is armed for: the
// first matching write signals held and then waits until the test's
// reads are done, or 2 s (a slow disk).
type holder struct {
	mu    sync.Mutex // protects following
	match func(path string) bool
	held  chan struct{}
	reads chan struct{}
	ok    bool // the reads finished while the write was held
}

func (h *holder) hook(path string) error {
	h.mu.Lock()
	m, held, reads := h.match, h.held, h.reads
	if m == nil || !m(path) {
		h.mu.Unlock()
		return nil
	}
	h.match = nil
	h.mu.Unlock()
	close(held)
	select {
	case <-reads:
		h.mu.Lock()
		h.ok = true
		h.mu.Unlock()
	case <-time.After(2 * time.Second):
	}
	return nil
}

// arm holds the next write for which match is true.
func (h *holder) arm(match func(string) bool) {
	h.mu.Lock()
	h.match, h.held, h.reads, h.ok = match, make(chan struct{}), make(chan struct{}), false
	h.mu.Unlock()
}

// TestSlowDisk: while a write to the state directory is held (the
// configuration, a job's record, a cursor), reading /ctl, /status,
// /wrcmd, a target's or a job's files, and the lookups a walk makes
// (the lists of targets and jobs) do not wait for it.
func TestSlowDisk(t *testing.T) {
	h := &holder{}
	e := newEngineOpts(t, Options{StateDir: t.TempDir(), hook: h.hook})
	ctx := context.Background()
	a, _ := ventitest.NewServer(t)
	b, _ := ventitest.NewServer(t)
	if err := e.Exec(ctx, "target one "+a); err != nil {
		t.Fatal(err)
	}
	ids, err := e.ExecJobs(ctx, "ventiprog -n one")
	if err != nil {
		t.Fatal(err)
	}
	wait(t, e, ids[0])
	ctlText := e.CtlText()
	base := func(name string) func(string) bool {
		return func(p string) bool { return filepath.Base(p) == name }
	}
	inJobs := func(p string) bool { return filepath.Base(filepath.Dir(p)) == "jobs" }
	for _, tt := range []struct {
		name  string
		match func(string) bool
		op    func() error
	}{
		{"configuration", base("config"), func() error { return e.Exec(ctx, "target two "+b) }},
		{"job record", inJobs, func() error { _, err := e.ExecJobs(ctx, "ventiprog -n one"); return err }},
		{"cursor", base("cursor"), func() error {
			return e.ImportWrCmd(ctx, "wrarena -h "+a+" -o 4988928 /dev/sdC0/arenas 0x12156\n")
		}},
	} {
		h.arm(tt.match)
		done := make(chan error, 1)
		go func() { done <- tt.op() }()
		<-h.held
		// The write is held: read everything a client can.
		e.Status()
		if got := e.CtlText(); got != ctlText {
			t.Errorf("%s: /ctl changed before the save: %q", tt.name, got)
		}
		e.WrCmd()
		e.Targets()
		e.TargetStatus("one")
		e.Jobs()
		e.JobStatus(ids[0])
		e.JobReport(ids[0])
		e.RootScor()
		close(h.reads)
		if err := <-done; err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		h.mu.Lock()
		ok := h.ok
		h.mu.Unlock()
		if !ok {
			t.Errorf("%s: reads waited for the held write", tt.name)
		}
		ctlText = e.CtlText()
	}
	if !strings.Contains(ctlText, "target two ") {
		t.Errorf("/ctl after: %q", ctlText)
	}
}
