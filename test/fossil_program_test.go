package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"replfs/fossil/fossiltest"
	"replfs/venti/ventitest"
)

// TestFossilProgramFlag: the fossil replfs runs comes from its command
// line (-F); a ctl client may choose among those, never name another.
func TestFossilProgramFlag(t *testing.T) {
	fake := fossiltest.FakeFossil(t)
	dir := t.TempDir()
	part := ventitest.CopyFixture(t, "fossil", "fossil-v.part", filepath.Join(dir, "fossil.part"))
	marker := filepath.Join(dir, "ran")
	evil := filepath.Join(dir, "evil.sh")
	os.WriteFile(evil, []byte("#!/bin/sh\ntouch "+marker+"\n"), 0700)
	ns := t.TempDir()
	p := startEnv(t, []string{"NAMESPACE=" + ns}, "serving 9P on unix", "-d", filepath.Join(dir, "state"),
		"-S", "64m", "-V", "tcp!127.0.0.1!"+itoa(freePort(t)), "-F", fake)
	fs := attach9(t, "unix", filepath.Join(ns, "replfs"), "", 1)
	err := write9(t, fs, "/ctl", "fossil -p "+evil+" "+part+"\nfossilstart\n")
	if want := `fossil: program "` + evil + `" is not one replfs was started with (-F)`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("fossil -p evil: %v", err)
	}
	if err := write9(t, fs, "/ctl", "fossil -p "+fake+" "+part+"\nfossilstart\n"); err != nil {
		t.Fatal(err)
	}
	if st, _ := waitJob(t, func() string { return read9(t, fs, "/jobs/1/status") }); !strings.HasPrefix(st, "state done\n") {
		t.Errorf("fossilstart:\n%s\n%s", st, p.stderr.String())
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the ctl-named program ran")
	}
}
