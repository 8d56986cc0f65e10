package test

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"replfs/venti/ventitest"
)

// TestVentiprogTargetFailures: one target is down (nothing listens on
// its port) and one refuses writes (its arenas are full). The good
// target still gets everything; each failure is named; once the down
// target is up, a later run completes it and sends the others nothing.
func TestVentiprogTargetFailures(t *testing.T) {
	fx := ventitest.Fixtures(t, "venti")
	srcPart := filepath.Join(fx, "arenas.part")
	good := serveVenti(t, newPartition(t, "64m", "4m"))
	full := serveVenti(t, newPartition(t, "2m", "1m"))
	downPort := freePort(t)
	down := "tcp!127.0.0.1!" + strconv.Itoa(downPort)
	state := t.TempDir()

	out, errs, err := runReplfs(t, "ventiprog", "-p", srcPart, "-d", state, good.addr, down, full.addr)
	if err == nil {
		t.Fatalf("ventiprog succeeded with a target down:\n%s", out)
	}
	s := parseSummary(t, out)
	if got := strings.Join(s[good.addr], " "); got != "2 941 6870104 arenas01 0x26e11d" {
		t.Errorf("good target: %s", got)
	}
	// A target that could not be reached gets one line, its error, and
	// no success-shaped summary.
	if got, ok := s[down]; ok {
		t.Errorf("down target has a summary line: %v", got)
	}
	if want := "replfs ventiprog: " + down + ": dial " + down + ": connection refused\n"; !strings.Contains(errs, want) {
		t.Errorf("stderr does not say %q:\n%s", want, errs)
	}
	if !strings.Contains(errs, "replfs ventiprog: "+full.addr+": arena arenas00: write: no space left in arenas") {
		t.Errorf("stderr does not name the full target:\n%s", errs)
	}
	checkHasPartition(t, srcPart, good.addr)

	// The down target comes up: the next run completes it alone.
	v := &ventiProc{part: newPartition(t, "64m", "4m"), addr: down, hport: freePort(t)}
	v.proc = start(t, "serving", "venti", "serve", "-a", down, "-h", "tcp!127.0.0.1!"+strconv.Itoa(v.hport), v.part)
	out, errs, err = runReplfs(t, "ventiprog", "-p", srcPart, "-d", state, good.addr, down)
	if err != nil {
		t.Fatalf("second run: %v\n%s%s", err, out, errs)
	}
	s = parseSummary(t, out)
	if s[good.addr][1] != "0" || s[down][1] != "941" {
		t.Errorf("second run: %v", s)
	}
	checkHasPartition(t, srcPart, down)
}
