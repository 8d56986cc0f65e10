package test

import (
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestReadmeVenti runs the README's venti commands, with free ports.
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
