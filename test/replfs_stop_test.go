package test

import (
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"replfs/venti/arena"
)

// TestReplfsPortInUse: the embedded venti's port taken is a clear error
// at start, not a server half up.
func TestReplfsPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	cmd := exec.Command(replfsBin, "-d", t.TempDir(), "-S", "64m", "-V", "tcp!127.0.0.1!"+port, "-s", "")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "replfs serve: embedded venti: announce tcp!127.0.0.1!"+port) ||
		!strings.Contains(string(out), "address already in use") {
		t.Errorf("err %v, output:\n%s", err, out)
	}
}

// TestReplfsSIGTERM: SIGTERM during a copy ends replfs with status 0,
// the target's cursor at a committed point whose clumps it has.
func TestReplfsSIGTERM(t *testing.T) {
	dir := t.TempDir()
	r := startReplfs(t, dir)
	tg := serveVenti(t, newPartition(t, "512m", "64m"))
	writeBlocks(t, r.venti, 4, 20000) // 160 MiB
	fs := r.mount9(t)
	if err := write9(t, fs, "/ctl", "target t "+tg.addr+"\nventiprog\n"); err != nil {
		t.Fatal(err)
	}
	// Stop it once the copy is under way.
	for i := 0; i < 2000; i++ {
		if st := read9(t, fs, "/targets/t/status"); strings.Contains(st, "state running") && !strings.Contains(st, "runclumps 0\n") {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, r.stderr.String())
	}
	cur, err := arena.LoadCursor(filepath.Join(dir, "targets", "t", "cursor"))
	if err != nil {
		t.Fatal(err)
	}
	src, err := arena.OpenPartition(filepath.Join(dir, "arenas"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	n := checkBelowCursor(t, src, cur, tg.addr, 0)
	t.Logf("stopped with %d of 20000 clumps committed", n)
}
