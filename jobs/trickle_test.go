package jobs

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"replfs/venti/ventitest"
)

// TestEngineTrickle runs trickle lines on an engine whose source is the
// fixture partition: a copy, a dry run, a verify, settings and rates
// read back from /ctl, and a repeat that runs until cancelled.
func TestEngineTrickle(t *testing.T) {
	e := newEngine(t, t.TempDir())
	ctx := context.Background()
	a1, s1 := ventitest.NewServer(t)
	a2, s2 := ventitest.NewServer(t)
	if err := e.Exec(ctx, "target -r 64m one "+a1+"\ntarget two "+a2+"\nset repeatseconds 1\nset secondsbetweenmoves 0"); err != nil {
		t.Fatal(err)
	}
	want := "target -r 64m one " + a1 + "\ntarget two " + a2 + "\nset repeatseconds 1\n"
	if got := e.CtlText(); got != want {
		t.Errorf("ctl %q, want %q", got, want)
	}
	if _, err := e.ExecJobs(ctx, "trickle local nosuch"); err == nil || err.Error() != "no target nosuch" {
		t.Errorf("unknown target: %v", err)
	}

	st := run(t, e, "trickle local one", Done)
	if s1.Len() != 941 || !strings.Contains(st, "result one: arenas 2 clumps 941 bytes 6870104 end arenas01 0x26e11d\n") ||
		!strings.Contains(st, "runs 1\n") {
		t.Errorf("trickle local one (%d blocks):\n%s", s1.Len(), st)
	}
	st = run(t, e, "trickle -D local two", Done)
	if s2.Len() != 0 || !strings.Contains(st, "result two: would send arenas 2 clumps 941 bytes 6870104\n") {
		t.Errorf("trickle -D (%d blocks):\n%s", s2.Len(), st)
	}
	st = run(t, e, "trickle -V vac:"+archive2+" one", Done)
	if !strings.Contains(st, "result one: vac:"+archive2+" complete ") {
		t.Errorf("trickle -V:\n%s", st)
	}
	st = run(t, e, "trickle -V vac:"+archive2+" two", Failed)
	if !strings.Contains(st, "result two: vac:"+archive2+" root missing\n") {
		t.Errorf("trickle -V of an empty target:\n%s", st)
	}

	// Repeat: every second, until cancelled.
	ids, err := e.ExecJobs(ctx, "trickle -R local one")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && !strings.Contains(jobStatus(t, e, ids[0]), "runs 3\n") {
		time.Sleep(20 * time.Millisecond)
	}
	st = jobStatus(t, e, ids[0])
	if !strings.Contains(st, "runs 3\n") {
		t.Fatalf("repeat:\n%s", st)
	}
	if err := e.Exec(ctx, "cancel "+strconv.Itoa(ids[0])); err != nil {
		t.Fatal(err)
	}
	if st := wait(t, e, ids[0]); st != Cancelled {
		t.Errorf("repeat after cancel: %s", st)
	}
}

// TestTrickleResumes: a repeating trickle ended by replfs stopping runs
// again when replfs starts, once.
func TestTrickleResumes(t *testing.T) {
	state := t.TempDir()
	ctx := context.Background()
	a1, _ := ventitest.NewServer(t)
	e := newEngine(t, state)
	if err := e.Exec(ctx, "target one "+a1+"\nset repeatseconds 1"); err != nil {
		t.Fatal(err)
	}
	ids, err := e.ExecJobs(ctx, "trickle -R '(00:00 .. 23:59)' local one")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && !strings.Contains(jobStatus(t, e, ids[0]), "runs 1\n") {
		time.Sleep(10 * time.Millisecond)
	}
	e.Close()
	trickles := func(e *Engine) (running []int, all int) {
		for _, id := range e.Jobs() {
			st := jobStatus(t, e, id)
			if strings.Contains(st, "cmd trickle -R") {
				all++
				if !strings.HasPrefix(st, "state done") && !strings.HasPrefix(st, "state failed") && !strings.HasPrefix(st, "state cancelled") {
					running = append(running, id)
				}
			}
		}
		return running, all
	}
	e2 := newEngine(t, state)
	running, all := trickles(e2)
	if len(running) != 1 || all != 2 {
		t.Fatalf("after a restart: running %v of %d trickle jobs", running, all)
	}
	if st := jobStatus(t, e2, ids[0]); !strings.Contains(st, "resumed job "+strconv.Itoa(running[0])+"\n") {
		t.Errorf("old job:\n%s", st)
	}
	if st := jobStatus(t, e2, running[0]); !strings.Contains(st, "cmd trickle -R '(00:00 .. 23:59)' local one\n") {
		t.Errorf("resumed job:\n%s", st)
	}
	e2.Close()
	e3 := newEngine(t, state)
	if running, all := trickles(e3); len(running) != 1 || all != 3 {
		t.Errorf("after a second restart: running %v of %d trickle jobs", running, all)
	}
	// A cancelled one stays cancelled.
	running, _ = trickles(e3)
	e3.Exec(ctx, "cancel "+strconv.Itoa(running[0]))
	wait(t, e3, running[0])
	e3.Close()
	e4 := newEngine(t, state)
	if running, _ := trickles(e4); len(running) != 0 {
		t.Errorf("a cancelled trickle came back: %v", running)
	}
}
