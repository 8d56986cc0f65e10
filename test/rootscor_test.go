package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"replfs/fossil"
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
