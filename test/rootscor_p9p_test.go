package test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"replfs/venti/ventitest"
)

// TestPlan9portRootscor (issue 13, opt-in with $PLAN9): the root score
// log goes into a plan9port venti target, `replfs venti roots -l` reads
// it from plan9port's arena partition once its cache is flushed, and
// plan9port's unvac of the log's root restores the log file.
func TestPlan9portRootscor(t *testing.T) {
	root := ventitest.Plan9port(t)
	fx := ventitest.Fixtures(t, "venti")
	ffx := ventitest.Fixtures(t, "fossil")
	sdir := t.TempDir()
	arenas := copyFile(t, filepath.Join(fx, "arenas.part"), sdir)
	sv := serveVenti(t, arenas)
	spart := copyFile(t, filepath.Join(ffx, "fossil.part"), sdir)
	pv := ventitest.StartPlan9portVenti(t, root, "256m", "64m")

	sstate := filepath.Join(sdir, "state")
	os.MkdirAll(sstate, 0700)
	if err := os.WriteFile(filepath.Join(sstate, "config"), []byte("source "+sv.addr+" "+arenas+"\ntarget p9p "+pv.Addr+"\nfossil -h local "+spart+"\n"), 0600); err != nil {
		t.Fatal(err)
	}
	src := startReplfsSource(t, sstate)
	sfs := src.mount9(t)
	for i, cmd := range []string{"fossilize", "ventiprog p9p"} {
		if err := write9(t, sfs, "/ctl", cmd); err != nil {
			t.Fatal(err)
		}
		if st, _ := waitJob(t, func() string { return read9(t, sfs, "/jobs/"+itoa(i+1)+"/status") }); !strings.HasPrefix(st, "state done\n") {
			t.Fatalf("%s:\n%s", cmd, st)
		}
	}
	log := read9(t, sfs, "/rootscor")
	st := read9(t, sfs, "/targets/p9p/status")
	i := strings.Index(st, "\nrootscor vac:")
	if i < 0 {
		t.Fatalf("p9p status:\n%s", st)
	}
	logRoot := strings.Fields(st[i+1:])[1]

	if r, err := http.Get("http://" + pv.HTTPAddr + "/flushdcache"); err != nil {
		t.Fatal(err)
	} else {
		r.Body.Close()
	}
	part := filepath.Join(pv.Dir, "arenas.part")
	out, errs, err := runReplfs(t, "venti", "roots", "-l", part)
	if err != nil || out != log {
		t.Errorf("venti roots -l on plan9port's partition: %v %s\n%q\nwant %q", err, errs, out, log)
	}

	// The vac root beside the replfs one is what unvac reads.
	out, errs, err = runReplfs(t, "venti", "roots", part)
	if err != nil {
		t.Fatalf("venti roots: %v %s", err, errs)
	}
	var vacRoot string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[1] == "rootscor" && f[2] == "vac" {
			vacRoot = f[0]
		}
		if f := strings.Fields(l); len(f) > 2 && f[1] == "rootscor" && f[2] == "replfs" && "vac:"+f[0] == logRoot && vacRoot == "" {
			t.Fatalf("no vac root before the log's:\n%s", out)
		}
	}
	dir := t.TempDir()
	cmd := ventitest.Plan9portCmd(context.Background(), root, "unvac", "-h", pv.Addr, "vac:"+vacRoot)
	cmd.Dir = dir // unvac writes the archive's files here
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("unvac vac:%s: %v\n%s", vacRoot, err, b)
	}
	got, err := os.ReadFile(filepath.Join(dir, "rootscor"))
	if err != nil {
		t.Fatalf("unvac restored no rootscor: %v", err)
	}
	if string(got) != log {
		t.Errorf("unvac restored %q, want %q", got, log)
	}
}
