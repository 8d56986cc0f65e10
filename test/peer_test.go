package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// makeID makes the identity in a state directory with `replfs id` and
// returns what it prints: the name and fingerprint a peer pins.
func makeID(t testing.TB, dir, name string) string {
	t.Helper()
	out, err := exec.Command(replfsBin, "id", "-d", dir, "-n", name).CombinedOutput()
	if err != nil {
		t.Fatalf("replfs id: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// tlsAddr returns a tls! dial string on a free loopback port.
func tlsAddr(t testing.TB) string {
	return "tls!127.0.0.1!" + strconv.Itoa(freePort(t))
}

// writePeers writes the allow list in a state directory.
func writePeers(t testing.TB, dir string, lines ...string) {
	t.Helper()
	os.MkdirAll(dir, 0700)
	if err := os.WriteFile(filepath.Join(dir, "peers"), []byte(strings.Join(lines, "\n")+"\n"), 0600); err != nil {
		t.Fatal(err)
	}
}
