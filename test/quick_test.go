package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"replfs/rootscor"
	"replfs/venti"
	"replfs/venti/ventitest"
)

// TestQuickAndVerifyAll: with roots in the root score log, ventiprog -q
// copies only their trees to a target, and verify with no scores checks
// every recorded root.
func TestQuickAndVerifyAll(t *testing.T) {
	fx := ventitest.Fixtures(t, "venti")
	srcPart := copyFile(t, filepath.Join(fx, "arenas.part"), t.TempDir())
	src := serveVenti(t, srcPart)
	tg := serveVenti(t, newPartition(t, "64m", "8m"))
	dir := t.TempDir()
	log, err := rootscor.Open(filepath.Join(dir, "rootscor"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range fixtureRoots[2:4] { // the two fossil archives
		s, _ := venti.ParseScore(r)
		log.Append(rootscor.Record{Score: s, Partition: "fossil.part", Venti: src.addr, Fsname: "main"})
	}
	log.Close()
	os.WriteFile(filepath.Join(dir, "config"), []byte("source "+src.addr+" "+srcPart+"\ntarget backup "+tg.addr+"\n"), 0600)
	r := startReplfsSource(t, dir)
	fs := r.mount9(t)
	if got := read9(t, fs, "/rootscor"); strings.Count(got, "\n") != 2 {
		t.Errorf("/rootscor:\n%s", got)
	}
	if err := write9(t, fs, "/ctl", "ventiprog -q backup"); err != nil {
		t.Fatal(err)
	}
	st, _ := waitJob(t, func() string { return read9(t, fs, "/jobs/1/status") })
	if !strings.HasPrefix(st, "state done\n") || !strings.Contains(st, "result backup: roots 2 copied ") {
		t.Fatalf("ventiprog -q:\n%s", st)
	}
	// Only the archives' trees: far fewer blocks than the 941 clumps.
	if n := tg.clumps(t); n == 0 || n >= 941 {
		t.Errorf("target has %d clumps", n)
	}
	if err := write9(t, fs, "/ctl", "verify backup"); err != nil {
		t.Fatal(err)
	}
	st, _ = waitJob(t, func() string { return read9(t, fs, "/jobs/2/status") })
	for _, root := range fixtureRoots[2:4] {
		if !strings.Contains(st, "result "+root+" complete ") {
			t.Errorf("verify lacks %s:\n%s", root, st)
		}
	}
	// A root not copied is missing there.
	if err := write9(t, fs, "/ctl", "verify backup "+fixtureRoots[0]); err != nil {
		t.Fatal(err)
	}
	st, _ = waitJob(t, func() string { return read9(t, fs, "/jobs/3/status") })
	if !strings.HasPrefix(st, "state failed\n") || !strings.Contains(st, "result "+fixtureRoots[0]+" root missing\n") {
		t.Errorf("verify of an absent root:\n%s", st)
	}
}

// startReplfsSource starts replfs on a state directory whose
// configuration names a source: no embedded venti.
func startReplfsSource(t testing.TB, dir string, args ...string) *replfsProc {
	t.Helper()
	r := &replfsProc{dir: dir, ns: t.TempDir()}
	p9 := freePort(t)
	r.addr9p = "127.0.0.1:" + itoa(p9)
	r.tcpDial = "tcp!127.0.0.1!" + itoa(p9)
	r.env = []string{"NAMESPACE=" + r.ns}
	r.proc = startEnv(t, r.env, "serving 9P on unix", append([]string{"-d", dir, "-a", r.tcpDial}, args...)...)
	return r
}
