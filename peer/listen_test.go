package peer

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// clientHello returns the first flight of a TLS 1.3 client: what a
// stalling client sends before it stops.
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

// stall opens n connections to s that send a ClientHello and stop.
func stall(t testing.TB, addr string, n int) []net.Conn {
	t.Helper()
	hp, _ := TCPAddr(addr)
	hello := clientHello(t)
	var cs []net.Conn
	for range n {
		c, err := net.Dial("tcp", hp)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := c.Write(hello); err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	return cs
}

// TestFlood: hundreds of handshakes that start and stall leave at most
// max under way, and a pinned peer still gets in.
func TestFlood(t *testing.T) {
	srv, p := newID(t, "srv"), newID(t, "p")
	const max = 8
	s := serve(t, srv, entry(p, "ctl"), max, time.Minute)
	cfg := &Config{ID: p, Peers: writeList(t, entry(srv, "ctl", s.addr))}
	if _, err := hello(t, cfg, s.addr); err != nil { // warm up
		t.Fatal(err)
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()

	flood := stall(t, s.addr, 400)
	if got, err := hello(t, cfg, s.addr); got != "hello p ctl\n" {
		t.Fatalf("peer during the flood: %q %v", got, err)
	}
	pending, peak := s.l.stats()
	if pending > max || peak > max {
		t.Errorf("%d handshakes pending, %d at most; cap %d", pending, peak, max)
	}
	if g := runtime.NumGoroutine(); g > g0+max+4 {
		t.Errorf("%d goroutines, %d before the flood", g, g0)
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	t.Logf("%d stalled connections: %d handshakes pending (peak %d), heap in use %+d KiB",
		len(flood), pending, peak, (int64(after.HeapInuse)-int64(before.HeapInuse))>>10)
	// The oldest were dropped by the server.
	flood[0].SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(flood[0]); isTimeout(err) {
		t.Errorf("oldest stalled connection still open")
	}
	if log := s.logged(); !strings.Contains(log, "handshake dropped: too many at once") {
		t.Errorf("log:\n%s", log)
	}
}

// TestHandshakeTimeout: a handshake that stalls is ended.
func TestHandshakeTimeout(t *testing.T) {
	srv, p := newID(t, "srv"), newID(t, "p")
	s := serve(t, srv, entry(p, "ctl"), MaxHandshakes, 100*time.Millisecond)
	c := stall(t, s.addr, 1)[0]
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadAll(c); isTimeout(err) {
		t.Fatalf("stalled handshake not ended: %v", err)
	}
	waitLog(t, s, 1)
	if log := s.logged(); !strings.Contains(log, "i/o timeout") {
		t.Errorf("log:\n%s", log)
	}
	if pending, _ := s.l.stats(); pending != 0 {
		t.Errorf("%d pending", pending)
	}
}

func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// TestListenerClose: Close ends the handshakes under way and Accept.
func TestListenerClose(t *testing.T) {
	srv := newID(t, "srv")
	s := serve(t, srv, "", MaxHandshakes, time.Minute)
	cs := stall(t, s.addr, 3)
	s.l.Close()
	for _, c := range cs {
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.ReadAll(c); isTimeout(err) {
			t.Errorf("handshake survived Close")
		}
	}
	if _, err := s.l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v", err)
	}
}
