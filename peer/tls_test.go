package peer

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// A server is a Listener whose connections are told who they are.
type server struct {
	l    *Listener
	addr string // tls!127.0.0.1!port
	cfg  *Config

	mu  sync.Mutex
	log []string
}

// serve starts a Listener for id with the allow list text, handshakes
// at most max at once, each for at most timeout.
func serve(t *testing.T, id *Identity, list string, max int, timeout time.Duration) *server {
	t.Helper()
	path := filepath.Join(t.TempDir(), "peers")
	if err := os.WriteFile(path, []byte(list), 0600); err != nil {
		t.Fatal(err)
	}
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{cfg: &Config{ID: id, Peers: path}}
	s.addr = "tls!127.0.0.1!" + strings.TrimPrefix(nl.Addr().String(), "127.0.0.1:")
	s.l = listen(nl, s.cfg, s.addr, s.logf, max, timeout)
	t.Cleanup(func() { s.l.Close() })
	go func() {
		for {
			c, err := s.l.Accept()
			if err != nil {
				return
			}
			p := c.(*Conn).Peer
			c.Write([]byte("hello " + p.Name + " " + p.Access.String() + "\n"))
			c.Close()
		}
	}()
	return s
}

func (s *server) logf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, fmt.Sprintf(format, args...))
}

func (s *server) logged() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.log, "\n")
}

// hello dials s as c and returns what the server says, or the error.
func hello(t *testing.T, c *Config, addr string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := c.Dial(ctx, addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	return bufio.NewReader(conn).ReadString('\n')
}

func entry(id *Identity, access string, addrs ...string) string {
	return strings.Join(append([]string{id.Name, id.FP.String(), access}, addrs...), " ") + "\n"
}

func TestAdmit(t *testing.T) {
	srv, ctl, ro := newID(t, "srv"), newID(t, "ctl"), newID(t, "ro")
	s := serve(t, srv, entry(ctl, "ctl")+entry(ro, "read"), MaxHandshakes, HandshakeTimeout)
	pin := &Config{ID: ctl, Peers: writeList(t, entry(srv, "ctl", s.addr))}
	if got, err := hello(t, pin, s.addr); got != "hello ctl ctl\n" {
		t.Errorf("ctl peer: %q %v", got, err)
	}
	pin.ID = ro
	if got, err := hello(t, pin, s.addr); got != "hello ro read\n" {
		t.Errorf("read-only peer: %q %v", got, err)
	}
	// The server's own identity is admitted without being listed.
	self := &Config{ID: srv, Peers: writeList(t, entry(srv, "ctl", s.addr))}
	if got, err := hello(t, self, s.addr); got != "hello srv ctl\n" {
		t.Errorf("itself: %q %v", got, err)
	}
}

func TestRefuse(t *testing.T) {
	srv, known, stranger := newID(t, "srv"), newID(t, "known"), newID(t, "stranger")
	misnamed := newID(t, "mallory")
	s := serve(t, srv, entry(known, "ctl")+"other "+misnamed.FP.String()+" ctl\n", MaxHandshakes, HandshakeTimeout)
	pinned := writeList(t, entry(srv, "ctl", s.addr))

	// No client certificate: a TLS client that has none.
	hp, _ := TCPAddr(s.addr)
	c, err := tls.Dial("tcp", hp, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("no certificate: read %d %v", n, err)
	}
	c.Close()

	// An unknown certificate; a known one naming someone else.
	for _, id := range []*Identity{stranger, misnamed} {
		got, err := hello(t, &Config{ID: id, Peers: pinned}, s.addr)
		if err == nil || got != "" || !strings.Contains(err.Error(), "refused us ("+id.Name+" "+id.FP.String()+")") {
			t.Errorf("%s: %q %v", id.Name, got, err)
		}
	}
	waitLog(t, s, 1)
	log := s.logged()
	// Once per address: the three refusals came from 127.0.0.1.
	if n := strings.Count(log, "refused"); n != 1 {
		t.Errorf("%d refusals logged:\n%s", n, log)
	}
	// The known peer still gets in.
	if got, err := hello(t, &Config{ID: known, Peers: pinned}, s.addr); got != "hello known ctl\n" {
		t.Errorf("known: %q %v", got, err)
	}
}

// TestRefuseEach: each refusal, logged from its own server.
func TestRefuseEach(t *testing.T) {
	srv, stranger, misnamed := newID(t, "srv"), newID(t, "stranger"), newID(t, "mallory")
	for _, tc := range []struct {
		id   *Identity
		want string
	}{
		{nil, "no client certificate"},
		{stranger, "unknown certificate " + stranger.FP.String()},
		{misnamed, `names "mallory" but is pinned as other`},
	} {
		s := serve(t, srv, "other "+misnamed.FP.String()+" ctl\n", MaxHandshakes, HandshakeTimeout)
		hp, _ := TCPAddr(s.addr)
		cfg := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}
		if tc.id != nil {
			cfg.Certificates = []tls.Certificate{tc.id.Cert}
		}
		c, err := tls.Dial("tcp", hp, cfg)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
			t.Errorf("%s: read %d %v", tc.want, n, err)
		}
		c.Close()
		waitLog(t, s, 1)
		if log := s.logged(); !strings.Contains(log, tc.want) {
			t.Errorf("log lacks %q:\n%s", tc.want, log)
		}
	}
}

func TestDialChecksPin(t *testing.T) {
	a, b, us := newID(t, "a"), newID(t, "b"), newID(t, "us")
	sa := serve(t, a, entry(us, "ctl"), MaxHandshakes, HandshakeTimeout)
	sb := serve(t, b, entry(us, "ctl"), MaxHandshakes, HandshakeTimeout)
	cfg := &Config{ID: us, Peers: writeList(t, entry(a, "ctl", sa.addr)+entry(b, "ctl", sb.addr))}
	for _, s := range []*server{sa, sb} {
		if _, err := hello(t, cfg, s.addr); err != nil {
			t.Fatal(err)
		}
	}
	// b's address pinned to a's certificate: b is known, but not
	// there. The error names both fingerprints.
	swapped := &Config{ID: us, Peers: writeList(t, entry(a, "ctl", sb.addr)+entry(b, "ctl"))}
	_, err := hello(t, swapped, sb.addr)
	if err == nil || !strings.Contains(err.Error(), "fingerprint mismatch: a is pinned as "+a.FP.String()+" but the server showed "+b.FP.String()+", which is b's") {
		t.Errorf("swapped: %v", err)
	}
	// A server whose key changed: pinned as b, it shows another
	// certificate for b.
	b2 := newID(t, "b")
	sb2 := serve(t, b2, entry(us, "ctl"), MaxHandshakes, HandshakeTimeout)
	_, err = hello(t, &Config{ID: us, Peers: writeList(t, entry(b, "ctl", sb2.addr))}, sb2.addr)
	if err == nil || !strings.Contains(err.Error(), "b is pinned as "+b.FP.String()+" but the server showed "+b2.FP.String()) {
		t.Errorf("changed key: %v", err)
	}
	// No pin for the address at all: no connection is made.
	if _, err := hello(t, &Config{ID: us}, sa.addr); err == nil || !strings.Contains(err.Error(), "no peer is pinned") {
		t.Errorf("unpinned: %v", err)
	}
}

func TestListReload(t *testing.T) {
	srv, p := newID(t, "srv"), newID(t, "p")
	s := serve(t, srv, "", MaxHandshakes, HandshakeTimeout)
	cfg := &Config{ID: p, Peers: writeList(t, entry(srv, "ctl", s.addr))}
	if _, err := hello(t, cfg, s.addr); err == nil {
		t.Fatal("admitted before being listed")
	}
	write := func(text string) {
		// A new size, so the change shows even within the clock's tick.
		if err := os.WriteFile(s.cfg.Peers, []byte(text), 0600); err != nil {
			t.Fatal(err)
		}
	}
	write(entry(p, "read"))
	if got, err := hello(t, cfg, s.addr); got != "hello p read\n" {
		t.Fatalf("after listing: %q %v", got, err)
	}
	// A file that no longer parses admits no one.
	write(entry(p, "read") + "junk\n")
	if _, err := hello(t, cfg, s.addr); err == nil {
		t.Errorf("admitted by a bad allow list")
	}
	if _, err := s.cfg.List(); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("List: %v", err)
	}
	write(entry(p, "ctl") + "\n")
	os.Chmod(s.cfg.Peers, 0666)
	if _, err := s.cfg.List(); err == nil || !strings.Contains(err.Error(), "others may write") {
		t.Errorf("List of a file others may write: %v", err)
	}
}

func writeList(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "peers")
	if err := os.WriteFile(path, []byte(text), 0600); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitLog waits until s has logged n lines.
func waitLog(t *testing.T, s *server, n int) {
	t.Helper()
	for range 1000 {
		s.mu.Lock()
		k := len(s.log)
		s.mu.Unlock()
		if k >= n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("logged %d lines, want %d:\n%s", len(s.log), n, s.logged())
}
