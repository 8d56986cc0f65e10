package test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// buildMount9p builds knusbaum/go9p's mount9p (v0.23.0, the newest the
// module proxy serves) in a module of its own, outside ours.
func buildMount9p(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "mount9p")
	run := func(args ...string) error {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Logf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return err
	}
	if run("mod", "init", "mount9pbuild") != nil ||
		run("get", "github.com/knusbaum/go9p/cmd/mount9p@v0.23.0") != nil ||
		run("build", "-o", bin, "github.com/knusbaum/go9p/cmd/mount9p") != nil {
		t.Skip("cannot build knusbaum/go9p's mount9p: FUSE test skipped")
	}
	return bin
}

// TestFUSE mounts replfs with mount9p and uses it as a user would:
// echo into ctl, cat the status files.
func TestFUSE(t *testing.T) {
	if testing.Short() {
		t.Skip("FUSE test skipped in -short mode")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse: FUSE test skipped")
	}
	if _, err := exec.LookPath("fusermount"); err != nil {
		t.Skip("no fusermount: FUSE test skipped")
	}
	mount9p := buildMount9p(t)
	r := startReplfs(t, "")
	tg := serveVenti(t, newPartition(t, "128m", "16m"))
	writeBlocks(t, r.venti, 3, 300)

	mnt := t.TempDir()
	m := exec.Command(mount9p, "-dio", r.addr9p, mnt)
	var merr bytes.Buffer
	m.Stderr = &merr
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		exec.Command("fusermount", "-u", mnt).Run()
		m.Process.Kill()
		m.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(mnt, "ctl")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mount did not appear:\n%s", merr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	sh := func(script string) (string, error) {
		out, err := exec.Command("sh", "-c", script).CombinedOutput()
		return string(out), err
	}
	if out, err := sh("ls " + mnt); err != nil || strings.Fields(out)[0] != "ctl" {
		t.Errorf("ls: %q %v", out, err)
	}
	if out, err := sh("echo 'target x " + tg.addr + "' > " + mnt + "/ctl"); err != nil {
		t.Fatalf("echo target: %v %s", err, out)
	}
	if out, err := sh("echo frob > " + mnt + "/ctl"); err == nil {
		t.Errorf("echo frob succeeded: %s", out)
	}
	if out, err := sh("echo ventiprog > " + mnt + "/ctl"); err != nil {
		t.Fatalf("echo ventiprog: %v %s", err, out)
	}
	final, _ := waitJob(t, func() string { out, _ := sh("cat " + mnt + "/jobs/1/status"); return out })
	if !strings.Contains(final, "state done\n") {
		t.Errorf("job:\n%s", final)
	}
	out, err := sh("cat " + mnt + "/targets/x/status")
	if err != nil || !strings.Contains(out, "runclumps 300\n") || !strings.Contains(out, "lagbytes 0\n") {
		t.Errorf("cat status: %v\n%s", err, out)
	}
	if got, _ := sh("cat " + mnt + "/ctl"); got != "target x "+tg.addr+"\n" {
		t.Errorf("cat ctl: %q", got)
	}
}
