package test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"replfs/venti"
)

// replfsBin is the replfs command built for these tests.
var replfsBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "replfs-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	replfsBin = filepath.Join(dir, "replfs")
	out, err := exec.Command("go", "build", "-o", replfsBin, "replfs/cmd/replfs").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build replfs: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// A proc is a replfs process started by a test.
type proc struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	exited chan struct{} // closed when the process has been waited for
	err    error         // its exit status, once exited is closed
}

// start runs replfs with args and waits until its stderr says want.
// The process is killed when the test ends.
func start(t testing.TB, want string, args ...string) *proc {
	t.Helper()
	return startEnv(t, nil, want, args...)
}

// startEnv is start with extra environment variables.
func startEnv(t testing.TB, env []string, want string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(replfsBin, args...)
	cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	p := &proc{cmd: cmd, stderr: new(lockedBuffer), exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	seen := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		found := false
		for sc.Scan() {
			p.stderr.WriteString(sc.Text() + "\n")
			if !found && strings.Contains(sc.Text(), want) {
				found = true
				close(seen)
			}
		}
	}()
	go func() {
		p.err = cmd.Wait()
		pw.Close()
		close(p.exited)
	}()
	t.Cleanup(p.kill)
	select {
	case <-seen:
	case <-p.exited:
		t.Fatalf("replfs %v exited: %v\n%s", args, p.err, p.stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("replfs %v did not say %q:\n%s", args, want, p.stderr.String())
	}
	return p
}

// kill sends SIGKILL and waits for the process.
func (p *proc) kill() {
	p.cmd.Process.Kill()
	<-p.exited
}

// stop sends SIGTERM and returns the exit status.
func (p *proc) stop(t testing.TB) error {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return p.err
	case <-time.After(20 * time.Second):
		t.Fatalf("replfs did not stop on SIGTERM:\n%s", p.stderr.String())
		return nil
	}
}

// dialVenti connects our client to addr.
func dialVenti(t testing.TB, addr string) *venti.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := venti.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// copyFile copies src to a new file in dir.
func copyFile(t testing.TB, src, dir string) string {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dst := filepath.Join(dir, filepath.Base(src))
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}
