package jobs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
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
		{"job record", inJobs, func() error {
			ids, err := e.ExecJobs(ctx, "ventiprog -n one")
			if err == nil {
				wait(t, e, ids[0])
			}
			return err
		}},
		{"cursor", base("cursor"), func() error {
			return e.ImportWrCmd(ctx, "wrarena -h "+a+" -o 4988928 /dev/sdC0/arenas 0x12156\n")
		}},
	} {
		h.arm(tt.match)
		done := make(chan error, 1)
		go func() { done <- tt.op() }()
		select {
		case <-h.held:
		case err := <-done:
			t.Fatalf("%s: no write held; %v", tt.name, err)
		}
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

// tmpfs mounts a tmpfs of size bytes for the test, or skips it.
func tmpfs(t *testing.T, size string) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("tmpfs: linux only")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	return dir
}

// fill fills the file system dir is on, with the file it returns.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "fill")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 4096)
	for {
		if _, err := f.Write(b); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return path
		}
	}
}

// TestStateDirFull: with the state directory's disk full, nothing
// acknowledged is lost: a configuration change is refused whole; a job
// runs and says its record is not saved, as /status does, and stays
// listed; once there is room its record is saved, and a restart finds
// the configuration and every job.
func TestStateDirFull(t *testing.T) {
	state := filepath.Join(tmpfs(t, "1m"), "state")
	ctx := context.Background()
	a, _ := ventitest.NewServer(t)
	e := newEngine(t, state)
	if err := e.Exec(ctx, "target -r 1m one "+a); err != nil {
		t.Fatal(err)
	}
	ids, err := e.ExecJobs(ctx, "ventiprog -n one")
	if err != nil {
		t.Fatal(err)
	}
	wait(t, e, ids[0])
	saved := jobStatus(t, e, ids[0])
	ctlText := e.CtlText()

	filler := fill(t, state)
	if err := e.Exec(ctx, "target -r 2m one "+a+"\ntarget two "+a); err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Errorf("configuration saved on a full disk: %v", err)
	}
	if got := e.CtlText(); got != ctlText {
		t.Errorf("/ctl %q, want %q", got, ctlText)
	}
	var full []int
	for range 3 {
		ids, err := e.ExecJobs(ctx, "ventiprog -n one")
		if err != nil {
			t.Fatal(err)
		}
		wait(t, e, ids[0])
		full = append(full, ids[0])
	}
	st := e.Status()
	for _, id := range full {
		js := jobStatus(t, e, id)
		if !strings.Contains(js, "state done\n") || !strings.Contains(js, "\nunsaved ") || !strings.Contains(js, "no space left") {
			t.Errorf("job %d on a full disk:\n%s", id, js)
		}
		if !strings.Contains(st, fmt.Sprintf("unsaved job %d ", id)) {
			t.Errorf("/status does not say job %d is unsaved:\n%s", id, st)
		}
	}
	b, _, _ := e.LogRead(ctx, 0, 1<<20)
	if !strings.Contains(string(b), fmt.Sprintf("job %d: not saved: ", full[0])) {
		t.Errorf("/log:\n%s", b)
	}

	// Room again: the next save saves the others.
	os.Remove(filler)
	ids, err = e.ExecJobs(ctx, "ventiprog -n one")
	if err != nil {
		t.Fatal(err)
	}
	wait(t, e, ids[0])
	all := append(full, ids[0])
	want := map[int]string{}
	for _, id := range all {
		js := jobStatus(t, e, id)
		if strings.Contains(js, "unsaved") {
			t.Errorf("job %d still unsaved:\n%s", id, js)
		}
		want[id] = js
	}
	if st := e.Status(); strings.Contains(st, "unsaved") {
		t.Errorf("/status:\n%s", st)
	}
	e.Close()

	e = newEngine(t, state)
	if got := e.CtlText(); got != ctlText {
		t.Errorf("after restart /ctl %q, want %q", got, ctlText)
	}
	if got := jobStatus(t, e, 1); got != saved {
		t.Errorf("job 1 after restart:\n%s\nwant\n%s", got, saved)
	}
	for id, w := range want {
		if got := jobStatus(t, e, id); got != w {
			t.Errorf("job %d after restart:\n%s\nwant\n%s", id, got, w)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(state, "jobs"))
	for _, d := range ents {
		if _, err := strconv.Atoi(d.Name()); err != nil {
			t.Errorf("jobs/%s left over", d.Name())
		}
	}
}
