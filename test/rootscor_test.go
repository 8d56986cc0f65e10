package test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"replfs/fossil"
	"replfs/rootscor"
	"replfs/venti"
	"replfs/venti/ventitest"
)

// TestRootscorRecovery (issue 13): the root score log travels with the
// data, and a host that lost everything gets its archives back from a
// backup alone. fossilize of the fixture fossil partition records its
// archive and leaves the log in the source venti; ventiprog copies the
// arenas to the backup and then the log. With the source's state
// directory deleted and its venti stopped, `replfs venti roots -l` on
// the backup's partition prints the log, a fresh replfs recovers it byte
// for byte with rootscor -r, and fosreset re-roots a new partition on
// the recovered archive from the backup.
func TestRootscorRecovery(t *testing.T) {
	fx := ventitest.Fixtures(t, "venti")
	ffx := ventitest.Fixtures(t, "fossil")
	sdir := t.TempDir()
	arenas := copyFile(t, filepath.Join(fx, "arenas.part"), sdir)
	sv := serveVenti(t, arenas)
	spart := copyFile(t, filepath.Join(ffx, "fossil.part"), sdir)
	bpart := newPartition(t, "256m", "64m")
	bv := serveVenti(t, bpart)

	sstate := filepath.Join(sdir, "state")
	os.MkdirAll(sstate, 0700)
	if err := os.WriteFile(filepath.Join(sstate, "config"), []byte("source "+sv.addr+" "+arenas+"\n"), 0600); err != nil {
		t.Fatal(err)
	}
	src := startReplfsSource(t, sstate)
	sfs := src.mount9(t)
	if err := write9(t, sfs, "/ctl", "target backup "+bv.addr+"\nfossil -h local "+spart+"\n"); err != nil {
		t.Fatal(err)
	}
	for i, cmd := range []string{"fossilize", "ventiprog backup"} {
		if err := write9(t, sfs, "/ctl", cmd); err != nil {
			t.Fatal(err)
		}
		if st, _ := waitJob(t, func() string { return read9(t, sfs, "/jobs/"+itoa(i+1)+"/status") }); !strings.HasPrefix(st, "state done\n") {
			t.Fatalf("%s:\n%s", cmd, st)
		}
	}
	log := read9(t, sfs, "/rootscor")
	lines := strings.Split(strings.TrimSuffix(log, "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("rootscor:\n%s", log)
	}
	archive := strings.Fields(lines[0])[0]
	if st := read9(t, sfs, "/targets/backup/status"); !strings.Contains(st, "\nrootscor vac:") || !strings.Contains(st, " 1 lines\n") {
		t.Errorf("backup status:\n%s", st)
	}

	// The source host is gone.
	src.stop(t)
	os.RemoveAll(sstate)
	sv.stop(t)

	out, errs, err := runReplfs(t, "venti", "roots", "-l", bpart)
	if err != nil || out != log {
		t.Fatalf("venti roots -l: %v %s\n%q\nwant %q", err, errs, out, log)
	}
	out, _, err = runReplfs(t, "venti", "roots", bpart)
	if err != nil {
		t.Fatal(err)
	}
	var logRoot string
	fossilRoot := false
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) > 2 && f[1] == "rootscor" && f[2] == "replfs":
			logRoot = f[0] // the newest last
		case len(f) > 2 && f[1] == "fossil" && f[2] == "vac" && "vac:"+f[0] == archive:
			fossilRoot = true
		}
	}
	if logRoot == "" || !fossilRoot {
		t.Fatalf("venti roots lacks the log or the archive %s:\n%s", archive, out)
	}

	fresh := startReplfs(t, t.TempDir())
	ffs := fresh.mount9(t)
	if err := write9(t, ffs, "/ctl", "target backup "+bv.addr+"\nrootscor -r backup vac:"+logRoot+"\n"); err != nil {
		t.Fatal(err)
	}
	if st, _ := waitJob(t, func() string { return read9(t, ffs, "/jobs/1/status") }); !strings.HasPrefix(st, "state done\n") {
		t.Fatalf("rootscor -r:\n%s", st)
	}
	if got := read9(t, ffs, "/rootscor"); got != log {
		t.Fatalf("recovered\n%q\nwant\n%q", got, log)
	}

	npart := filepath.Join(t.TempDir(), "fossil.part")
	if err := os.WriteFile(npart, nil, 0600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(npart, 16<<20); err != nil {
		t.Fatal(err)
	}
	if err := write9(t, ffs, "/ctl", "fossil -h backup "+npart+"\nfosreset "+archive+"\n"); err != nil {
		t.Fatal(err)
	}
	if st, _ := waitJob(t, func() string { return read9(t, ffs, "/jobs/2/status") }); !strings.HasPrefix(st, "state done\n") {
		t.Fatalf("fosreset:\n%s", st)
	}
	if _, s, err := fossil.ReadSuper(npart); err != nil || s.Last != venti.ZeroScore {
		t.Errorf("new partition's super %+v %v", s, err)
	}
}

// TestRootscorCrash (issue 13): replfs killed between the sync of a
// copy's data and the write of the root score log leaves the target
// with no log ahead of its data: every log root the target's arenas
// hold names only archives the target has, and the target's record of
// its copy is the older one. The next run writes the log.
func TestRootscorCrash(t *testing.T) {
	fx := ventitest.Fixtures(t, "venti")
	ffx := ventitest.Fixtures(t, "fossil")
	sdir := t.TempDir()
	arenas := copyFile(t, filepath.Join(fx, "arenas.part"), sdir)
	sv := serveVenti(t, arenas)
	spart := copyFile(t, filepath.Join(ffx, "fossil.part"), sdir)
	bpart := newPartition(t, "256m", "64m")
	bv := serveVenti(t, bpart)
	sstate := filepath.Join(sdir, "state")
	os.MkdirAll(sstate, 0700)
	if err := os.WriteFile(filepath.Join(sstate, "config"), []byte("source "+sv.addr+" "+arenas+"\ntarget backup "+bv.addr+"\nfossil -h local "+spart+"\n"), 0600); err != nil {
		t.Fatal(err)
	}
	startSrc := func(env ...string) *replfsProc {
		r := &replfsProc{dir: sstate, ns: t.TempDir()}
		p9 := freePort(t)
		r.addr9p = "127.0.0.1:" + itoa(p9)
		r.tcpDial = "tcp!127.0.0.1!" + itoa(p9)
		r.env = append([]string{"NAMESPACE=" + r.ns}, env...)
		r.proc = startEnv(t, r.env, "serving 9P on unix", "-d", sstate, "-a", r.tcpDial)
		return r
	}
	src := startSrc("REPLFS_PAUSE=rootscor backup")
	sfs := src.mount9(t)
	if err := write9(t, sfs, "/ctl", "fossilize"); err != nil {
		t.Fatal(err)
	}
	if st, _ := waitJob(t, func() string { return read9(t, sfs, "/jobs/1/status") }); !strings.HasPrefix(st, "state done\n") {
		t.Fatalf("fossilize:\n%s", st)
	}
	log := read9(t, sfs, "/rootscor")
	if err := write9(t, sfs, "/ctl", "ventiprog backup"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(src.stderr.String(), "paused at rootscor backup") {
		if time.Now().After(deadline) {
			t.Fatalf("never paused:\n%s", src.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	src.kill()

	// What the backup holds: its arenas carry the log fossilize left in
	// the source venti (after the archive it names), never one naming an
	// archive the backup lacks.
	if n := checkLogsComplete(t, bv, bpart); n != 1 {
		t.Errorf("backup holds %d logs after the kill, want the one fossilize left", n)
	}
	if _, err := os.Stat(filepath.Join(sstate, "targets", "backup", "rootscor")); !os.IsNotExist(err) {
		t.Errorf("a record of a log copy the kill cut short: %v", err)
	}

	src = startSrc()
	sfs = src.mount9(t)
	if st := read9(t, sfs, "/targets/backup/status"); !strings.Contains(st, "\nrootscor -\n") {
		t.Errorf("backup after the kill:\n%s", st)
	}
	if err := write9(t, sfs, "/ctl", "ventiprog backup"); err != nil {
		t.Fatal(err)
	}
	if st, _ := waitJob(t, func() string { return read9(t, sfs, "/jobs/3/status") }); !strings.HasPrefix(st, "state done\n") {
		t.Fatalf("ventiprog after the kill:\n%s", st)
	}
	if st := read9(t, sfs, "/targets/backup/status"); !strings.Contains(st, " 1 lines\n") {
		t.Errorf("backup after the second run:\n%s", st)
	}
	// The same log, first of its chain on both: the same blocks, the
	// same root.
	if n := checkLogsComplete(t, bv, bpart); n != 1 {
		t.Errorf("backup holds %d logs, want 1", n)
	}
	if out, _, err := runReplfs(t, "venti", "roots", "-l", bpart); err != nil || out != log {
		t.Errorf("venti roots -l: %v\n%q\nwant %q", err, out, log)
	}
}

// checkLogsComplete checks that every root score log in the arenas of
// part names only archives the venti v serving them has, and returns
// how many logs it checked.
func checkLogsComplete(t *testing.T, v *ventiProc, part string) int {
	t.Helper()
	out, _, err := runReplfs(t, "venti", "roots", part)
	if err != nil {
		t.Fatal(err)
	}
	c := dialVenti(t, v.addr)
	ctx := context.Background()
	n := 0
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 3 || f[1] != "rootscor" || f[2] != "replfs" {
			continue
		}
		s, _ := venti.ParseScore(f[0])
		n++
		b, err := rootscor.ReadLog(ctx, c, s)
		if err != nil {
			t.Errorf("log %s: %v", f[0], err)
			continue
		}
		for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			r, err := rootscor.ParseRecord(line)
			if err != nil {
				continue
			}
			if _, err := c.Read(ctx, r.Score, venti.RootType, venti.RootSize); err != nil {
				t.Errorf("log %s names vac:%v, which the backup lacks: %v", f[0], r.Score, err)
			}
		}
	}
	return n
}
