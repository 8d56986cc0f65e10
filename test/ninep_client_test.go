package test

import (
	"bytes"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// replfs9pEnv runs replfs 9p with extra environment variables and
// returns stdout, stderr and the error.
func replfs9pEnv(t testing.TB, env []string, stdin string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(replfsBin, append([]string{"9p"}, args...)...)
	cmd.Env = append(cmd.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	return o.String(), e.String(), err
}

// replfs 9p write /ctl prints the jobs it started; replfs 9p wait n
// waits for one and exits as it ended; plan9port's service/path form and
// -s name reach a posted server; a signal ends a read of /log.
func TestNinepClient(t *testing.T) {
	r := startReplfs(t, "")
	tgt := serveVenti(t, newPartition(t, "64m", "4m"))
	env := []string{"NAMESPACE=" + r.ns}
	out, errs, err := replfs9pEnv(t, env, "target b "+tgt.addr+"\nventiprog\nventiprog nosuch\n", "write", "/ctl")
	if err == nil || !strings.Contains(errs, "no target nosuch") {
		t.Errorf("a bad line: %v %s", err, errs)
	}
	out, errs, err = replfs9pEnv(t, env, "target b "+tgt.addr+"\nventiprog\n", "write", "/ctl")
	if err != nil || out != "job 1\n" {
		t.Fatalf("write /ctl: %q %v %s", out, err, errs)
	}
	out, errs, err = replfs9pEnv(t, env, "", "wait", "1")
	if err != nil || !strings.HasPrefix(out, "state done\n") {
		t.Errorf("wait 1: %v %s\n%s", err, errs, out)
	}
	// A job that fails: wait exits 1.
	out, _, _ = replfs9pEnv(t, env, "target down tcp!127.0.0.1!1\nventiprog down\n", "write", "/ctl")
	id := strings.TrimSpace(strings.TrimPrefix(out, "job "))
	out, _, err = replfs9pEnv(t, env, "", "wait", id)
	if err == nil || !strings.HasPrefix(out, "state failed\n") {
		t.Errorf("wait %s of a failing job: %v\n%s", id, err, out)
	}

	// plan9port's form: the service is the path's first element.
	out, errs, err = replfs9pEnv(t, env, "", "read", "replfs/ctl")
	if err != nil || !strings.Contains(out, "target b "+tgt.addr) {
		t.Errorf("read replfs/ctl: %v %s %q", err, errs, out)
	}
	// A server posted under another name: -s, or the path form.
	r2 := startReplfsArgs(t, "", nil, "-s", "other")
	env2 := []string{"NAMESPACE=" + r2.ns}
	if out, errs, err := replfs9pEnv(t, env2, "", "-s", "other", "read", "/rootscor"); err != nil {
		t.Errorf("-s other: %v %s %q", err, errs, out)
	}
	if _, errs, err := replfs9pEnv(t, env2, "", "ls", "other/jobs"); err != nil {
		t.Errorf("ls other/jobs: %v %s", err, errs)
	}

	// Interrupt and terminate end a read of /log that waits.
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		cmd := exec.Command(replfsBin, "9p", "read", "/log")
		cmd.Env = append(cmd.Environ(), env...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		cmd.Process.Signal(sig)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Errorf("replfs 9p read /log did not end on %v", sig)
		}
	}
}
