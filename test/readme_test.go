package test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestReadmeQuickstart runs the README's quickstart, line by line, as a
// newcomer would, with its directories and ports replaced by fresh ones.
func TestReadmeQuickstart(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	in := false
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "<!-- quickstart"):
			in = true
		case strings.HasPrefix(l, "<!-- end quickstart"):
			in = false
		case in && strings.HasPrefix(l, "    "):
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	if len(lines) < 8 || lines[0] != "go build ./cmd/replfs" {
		t.Fatalf("quickstart lines: %q", lines)
	}
	dir := t.TempDir()
	os.Symlink(replfsBin, filepath.Join(dir, "replfs"))
	v1, v2 := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	env := append(os.Environ(), "NAMESPACE="+filepath.Join(dir, "ns"), "venti=tcp!127.0.0.1!"+v1)
	sub := strings.NewReplacer("/tmp/", dir+"/", "17035", v2, "17034", v1)
	for _, l := range lines[1:] { // replfs is built already
		l = sub.Replace(l)
		if strings.HasSuffix(l, "&") {
			cmd := exec.Command("sh", "-c", "exec "+strings.TrimSuffix(l, "&"))
			cmd.Dir, cmd.Env = dir, env
			cmd.Stderr = io.Discard
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			port := v1
			if strings.Contains(l, v2) {
				port = v2
			}
			waitPort(t, "tcp", "127.0.0.1:"+port)
			if strings.Contains(l, "-d ") {
				waitPort(t, "unix", filepath.Join(dir, "ns", "replfs"))
			}
			continue
		}
		var out []byte
		deadline := time.Now().Add(20 * time.Second)
		for {
			cmd := exec.Command("sh", "-c", l)
			cmd.Dir, cmd.Env = dir, env
			out, err = cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", l, err, out)
			}
			// A job's status is read again until the job is done.
			if !strings.Contains(l, "/jobs/") || strings.HasPrefix(string(out), "state done") || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Logf("%s\n%s", l, out)
		switch {
		case strings.Contains(l, "/jobs/1/status"):
			if !strings.HasPrefix(string(out), "state done\ncmd ventiprog\n") {
				t.Errorf("job status:\n%s", out)
			}
		case strings.Contains(l, "/targets/backup/status"):
			if !strings.Contains(string(out), "runclumps 1\n") || !strings.Contains(string(out), "lagbytes 0\n") {
				t.Errorf("target status:\n%s", out)
			}
		}
	}
}

func waitPort(t *testing.T, network, addr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial(network, addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReadmeVenti runs the venti subcommands (fmt, serve, write, read)
// as a process and checks the HTTP page.
func TestReadmeVenti(t *testing.T) {
	part := filepath.Join(t.TempDir(), "arenas")
	if out, err := exec.Command(replfsBin, "venti", "fmt", "-s", "1g", part).CombinedOutput(); err != nil {
		t.Fatalf("venti fmt: %v\n%s", err, out)
	}
	addr := "tcp!127.0.0.1!" + strconv.Itoa(freePort(t))
	hport := strconv.Itoa(freePort(t))
	p := start(t, "serving", "venti", "serve", "-a", addr, "-h", "tcp!127.0.0.1!"+hport, part)
	w := exec.Command(replfsBin, "venti", "write", "-h", addr)
	w.Stdin = strings.NewReader("hello\n")
	out, err := w.Output()
	if err != nil {
		t.Fatalf("venti write: %v", err)
	}
	score := strings.TrimSpace(string(out))
	got, err := exec.Command(replfsBin, "venti", "read", "-h", addr, score).Output()
	if err != nil || string(got) != "hello\n" {
		t.Fatalf("venti read: %q %v", got, err)
	}
	r, err := http.Get("http://127.0.0.1:" + hport + "/index")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if !strings.Contains(string(b), "\twritten: clumps=1 compressed clumps=0 data=6 ") {
		t.Errorf("/index:\n%s", b)
	}
	if err := p.stop(t); err != nil {
		t.Errorf("stop: %v", err)
	}
}
