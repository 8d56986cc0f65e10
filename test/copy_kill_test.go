package test

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"replfs/venti/ventitest"
)

// TestCopyKill: a copy is cut short 20 times by killing replfs with
// SIGKILL at random moments, and started again with -f each time. The
// target then verifies complete: children are written before parents,
// so whatever top -f finds has everything below it.
func TestCopyKill(t *testing.T) {
	if testing.Short() {
		t.Skip("kill rounds skipped in -short mode")
	}
	src := serveVenti(t, newPartition(t, "512m", "64m"))
	tg := serveVenti(t, newPartition(t, "512m", "64m"))
	c := dialVenti(t, src.addr)
	root, err := ventitest.MakeTree(context.Background(), c, 128, 1<<20, 11) // 128 MiB
	if err != nil {
		t.Fatal(err)
	}
	c.Sync(context.Background())
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(6, 2026))
	cmd := "copy -f -w 8 " + src.addr + " " + tg.addr + " vac:" + root.String()
	for round := range 20 {
		r := startReplfs(t, dir)
		fs := r.mount9(t)
		if err := write9(t, fs, "/ctl", cmd); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(5+rng.IntN(60)) * time.Millisecond)
		r.kill()
		t.Logf("round %d: target has %d blocks", round, tg.clumps(t))
	}
	r := startReplfs(t, dir)
	fs := r.mount9(t)
	// Job numbers carry on from the killed rounds' saved history: each
	// command's job is the newest listed.
	newest := func() string {
		ids := strings.Fields(listDir(t, fs, "/jobs"))
		return ids[len(ids)-1]
	}
	if err := write9(t, fs, "/ctl", cmd); err != nil {
		t.Fatal(err)
	}
	id := newest()
	cp, _ := waitJob(t, func() string { return read9(t, fs, "/jobs/"+id+"/status") })
	if err := write9(t, fs, "/ctl", "verify -r "+tg.addr+" vac:"+root.String()); err != nil {
		t.Fatal(err)
	}
	last := newest()
	vf, _ := waitJob(t, func() string { return read9(t, fs, "/jobs/"+last+"/status") })
	if !strings.HasPrefix(cp, "state done\n") {
		t.Errorf("final copy:\n%s", cp)
	}
	if !strings.HasPrefix(vf, "state done\n") || !strings.Contains(vf, "result vac:"+root.String()+" complete ") {
		t.Errorf("verify after interrupted copies:\n%s\nreport:\n%s", vf, read9(t, fs, "/jobs/"+last+"/report"))
	}
}
