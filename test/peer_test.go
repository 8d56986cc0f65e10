package test

import (
	"crypto/tls"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"replfs/peer"
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

// replfs9p runs `replfs 9p args`, with stdin, and returns its output
// and error.
func replfs9p(t testing.TB, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(replfsBin, append([]string{"9p"}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestPeerRefusals: over tls!, a stranger, a client without a
// certificate and one whose name is not the one pinned get nothing; a
// read-only peer reads but cannot write ctl; a ctl peer can.
func TestPeerRefusals(t *testing.T) {
	dstate, cdir, rdir, sdir, mdir := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	daddr := tlsAddr(t)
	dpin := makeID(t, dstate, "dst") + " ctl " + daddr
	mallory := strings.Fields(makeID(t, mdir, "mallory"))[1]
	writePeers(t, dstate, makeID(t, cdir, "admin")+" ctl", makeID(t, rdir, "monitor")+" read", "other "+mallory+" ctl")
	for _, d := range []string{cdir, rdir, sdir, mdir} {
		writePeers(t, d, dpin)
	}
	makeID(t, sdir, "stranger")
	dst := startReplfsArgs(t, dstate, nil, "-a", daddr)
	dfs := dst.mount9(t)

	// No client certificate.
	hp := "127.0.0.1:" + daddr[strings.LastIndex(daddr, "!")+1:]
	c, err := tls.Dial("tcp", hp, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("no certificate: %v", err)
	}
	c.Close()
	// A certificate no one pinned; a pinned one naming another.
	for _, d := range []string{sdir, mdir} {
		out, err := replfs9p(t, "", "-d", d, "-a", daddr, "read", "/status")
		if err == nil || !strings.Contains(out, daddr+" refused us") {
			t.Errorf("%s: %v\n%s", d, err, out)
		}
	}
	if log := dst.stderr.String(); !strings.Contains(log, "refused 127.0.0.1:") || !strings.Contains(log, "no client certificate") {
		t.Errorf("refusal not logged:\n%s", log)
	}

	// The read-only peer reads status but cannot write ctl.
	if out, err := replfs9p(t, "", "-d", rdir, "-a", daddr, "read", "/status"); err != nil || !strings.HasPrefix(out, "source ") {
		t.Errorf("read-only peer reading /status: %v\n%s", err, out)
	}
	out, err := replfs9p(t, "target t tcp!127.0.0.1!1\n", "-d", rdir, "-a", daddr, "write", "/ctl")
	if err == nil || !strings.Contains(out, "read-only connection") {
		t.Errorf("read-only peer writing /ctl: %v\n%s", err, out)
	}
	if got := read9(t, dfs, "/ctl"); strings.Contains(got, "target") {
		t.Errorf("read-only peer changed ctl:\n%s", got)
	}
	// The ctl peer writes.
	if out, err := replfs9p(t, "target t tcp!127.0.0.1!1\n", "-d", cdir, "-a", daddr, "write", "/ctl"); err != nil {
		t.Fatalf("ctl peer writing /ctl: %v\n%s", err, out)
	}
	if got := read9(t, dfs, "/ctl"); !strings.Contains(got, "target t tcp!127.0.0.1!1\n") {
		t.Errorf("ctl after the ctl peer's write:\n%s", got)
	}
}

// TestCpsysFingerprintChanged: cpsys refuses a server whose certificate
// is not the one pinned for its address, naming both fingerprints, and
// nothing runs there.
func TestCpsysFingerprintChanged(t *testing.T) {
	sstate, dstate := t.TempDir(), t.TempDir()
	saddr, daddr := tlsAddr(t), tlsAddr(t)
	sid, did := makeID(t, sstate, "src"), makeID(t, dstate, "dst")
	pins := []string{sid + " ctl " + saddr, did + " ctl " + daddr}
	writePeers(t, sstate, pins...)
	writePeers(t, dstate, pins...)
	src := startReplfsArgs(t, sstate, nil, "-a", saddr)
	sfs := src.mount9(t)
	dst := startReplfsArgs(t, dstate, nil, "-a", daddr)

	// With no fossils cpsys fails, but only once it reached both.
	if err := write9(t, sfs, "/ctl", "cpsys "+saddr+" "+daddr); err != nil {
		t.Fatal(err)
	}
	st, _ := waitJob(t, func() string { return read9(t, sfs, "/jobs/1/status") })
	if !strings.Contains(st, "note "+daddr+": job 1 failed: fossilize") || strings.Contains(st, "fingerprint") {
		t.Fatalf("first cpsys:\n%s", st)
	}

	// DST's key changes: a new identity on the same address.
	if err := dst.stop(t); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dstate, "id.pem"))
	newID := makeID(t, dstate, "dst")
	dst = startReplfsArgs(t, dstate, nil, "-a", daddr)
	dfs := dst.mount9(t)
	before := listDir(t, dfs, "/jobs")

	if err := write9(t, sfs, "/ctl", "cpsys "+saddr+" "+daddr); err != nil {
		t.Fatal(err)
	}
	// Job 2 was SRC's own fossilize for the first.
	st, _ = waitJob(t, func() string { return read9(t, sfs, "/jobs/3/status") })
	old, fresh := strings.Fields(did)[1], strings.Fields(newID)[1]
	if !strings.HasPrefix(st, "state failed\n") ||
		!strings.Contains(st, "fingerprint mismatch: dst is pinned as "+old+" but the server showed "+fresh) {
		t.Errorf("cpsys on a changed key:\n%s", st)
	} else {
		t.Logf("%s", st)
	}
	if after := listDir(t, dfs, "/jobs"); after != before {
		t.Errorf("DST jobs %q, were %q", after, before)
	}
}

// TestServeRules: plain TCP off loopback still needs -A, and the allow
// list cannot be a file replfs writes itself (ctl writes config).
func TestServeRules(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-a", "tcp!0.0.0.0!" + strconv.Itoa(freePort(t))}, "is not a loopback address: anyone who reaches it can write ctl; serve tls! to admit pinned peers only, or give -A"},
		{[]string{"-P", "config"}, "peers file " + filepath.Join(dir, "config") + ": replfs writes it itself"},
		{[]string{"-P", "targets/x"}, "replfs writes it itself"},
		{[]string{"-P", filepath.Join(dir, "nonesuch")}, "nonesuch: no such file"},
		{[]string{"-a", "tls!127.0.0.1!x!y"}, `bad address "tls!127.0.0.1!x!y"`},
	} {
		os.WriteFile(filepath.Join(dir, "config"), nil, 0600)
		cmd := exec.Command(replfsBin, append([]string{"-d", dir, "-s", "", "-V", "tcp!127.0.0.1!" + strconv.Itoa(freePort(t))}, tc.args...)...)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("replfs %v: %v\n%s", tc.args, err, out)
		}
	}
}

// TestTLSFlood: hundreds of connections that start a TLS handshake and
// stall leave replfs serving a pinned peer, holding at most
// peer.MaxHandshakes of them open.
func TestTLSFlood(t *testing.T) {
	dstate, cdir := t.TempDir(), t.TempDir()
	daddr := tlsAddr(t)
	writePeers(t, cdir, makeID(t, dstate, "dst")+" ctl "+daddr)
	writePeers(t, dstate, makeID(t, cdir, "admin")+" ctl")
	dst := startReplfsArgs(t, dstate, nil, "-a", daddr)
	pid := dst.cmd.Process.Pid
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid) + "/fd"); err != nil {
		t.Skip("no /proc")
	}
	if _, err := replfs9p(t, "", "-d", cdir, "-a", daddr, "read", "/status"); err != nil {
		t.Fatal(err)
	}
	fds0, rss0 := procStats(t, pid)

	hello := clientHello(t)
	hp := "127.0.0.1:" + daddr[strings.LastIndex(daddr, "!")+1:]
	const n = 500
	for range n {
		c, err := net.Dial("tcp", hp)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := c.Write(hello); err != nil {
			t.Fatal(err)
		}
	}
	// Past all n in the listen queue, a pinned peer is served.
	out, err := replfs9p(t, "", "-d", cdir, "-a", daddr, "read", "/status")
	if err != nil || !strings.HasPrefix(out, "source ") {
		t.Fatalf("pinned peer during the flood: %v\n%s", err, out)
	}
	fds, rss := procStats(t, pid)
	t.Logf("%d stalled handshakes: replfs holds %d descriptors (%d before), resident %d KiB (%d before)", n, fds, fds0, rss, rss0)
	if fds > fds0+peer.MaxHandshakes+8 {
		t.Errorf("%d descriptors open, %d before the flood; cap %d handshakes", fds, fds0, peer.MaxHandshakes)
	}
}

// procStats returns a process's open descriptors and resident KiB.
func procStats(t testing.TB, pid int) (fds, rssKiB int) {
	t.Helper()
	dir := "/proc/" + strconv.Itoa(pid)
	ents, err := os.ReadDir(dir + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(dir + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			rssKiB, _ = strconv.Atoi(strings.Fields(v)[0])
		}
	}
	return len(ents), rssKiB
}

// clientHello returns a TLS 1.3 client's first flight: what a client
// that stalls sends before it stops.
func clientHello(t testing.TB) []byte {
	t.Helper()
	a, b := net.Pipe()
	go tls.Client(a, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}).Handshake()
	defer a.Close()
	defer b.Close()
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(b, hdr); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(b, body); err != nil {
		t.Fatal(err)
	}
	return append(hdr, body...)
}
