package peer

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"
)

const (
	// MaxHandshakes is how many handshakes a Listener runs at once.
	// When a connection comes with that many under way, the oldest
	// is dropped: a peer's handshake takes milliseconds, a stalled
	// one is old.
	MaxHandshakes = 64
	// HandshakeTimeout is how long a handshake may take.
	HandshakeTimeout = 10 * time.Second
	// maxLogged is how many addresses the refusal log remembers.
	maxLogged = 1024
)

// A Listener admits pinned peers on a TCP listener. Its Accept returns
// a *Conn whose handshake is done; the handshakes run apart from
// Accept, at most MaxHandshakes at once, each for at most
// HandshakeTimeout. A refusal is logged once per address.
type Listener struct {
	l       net.Listener
	c       *Config
	name    string // for the log
	logf    func(string, ...any)
	max     int
	timeout time.Duration

	conns     chan *Conn
	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup

	mu      sync.Mutex // protects following
	pending []net.Conn // in handshake, oldest first
	peak    int        // most pending at once
	logged  map[string]bool
	err     error // why the listener stopped
}

// Listen admits peers on l, which it owns from now on. Name is the
// listener's dial string, for the log; logf may be nil.
func Listen(l net.Listener, c *Config, name string, logf func(string, ...any)) *Listener {
	return listen(l, c, name, logf, MaxHandshakes, HandshakeTimeout)
}

func listen(l net.Listener, c *Config, name string, logf func(string, ...any), max int, timeout time.Duration) *Listener {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	tl := &Listener{l: l, c: c, name: name, logf: logf, max: max, timeout: timeout,
		conns: make(chan *Conn), done: make(chan struct{}), logged: map[string]bool{}}
	tl.wg.Go(tl.loop)
	return tl
}

// Accept returns the next admitted connection.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.err != nil {
			return nil, l.err
		}
		return nil, net.ErrClosed
	}
}

// Close stops the listener, drops the handshakes under way and waits
// for them.
func (l *Listener) Close() error {
	err := l.stop(nil)
	l.wg.Wait()
	return err
}

func (l *Listener) stop(why error) error {
	var err error
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.err = why
		for _, c := range l.pending {
			c.Close()
		}
		l.pending = nil
		l.mu.Unlock()
		close(l.done)
		err = l.l.Close()
	})
	return err
}

// Addr returns the TCP listener's address, on the network "tls".
func (l *Listener) Addr() net.Addr { return tlsAddr{l.l.Addr()} }

type tlsAddr struct{ net.Addr }

func (tlsAddr) Network() string { return "tls" }

func (l *Listener) loop() {
	var delay time.Duration
	for {
		raw, err := l.l.Accept()
		if err != nil {
			select {
			case <-l.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				l.stop(err)
				return
			}
			// Out of descriptors and the like: wait, try again.
			if delay == 0 {
				l.logf("%s: accept: %v", l.name, err)
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(delay):
			case <-l.done:
				return
			}
			continue
		}
		delay = 0
		if !l.add(raw) {
			raw.Close()
			return
		}
		l.wg.Go(func() { l.handshake(raw) })
	}
}

// add notes a handshake starting, dropping the oldest if there are
// too many. It reports false once the listener is closed.
func (l *Listener) add(raw net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.done:
		return false
	default:
	}
	if len(l.pending) >= l.max {
		old := l.pending[0]
		l.pending = append(l.pending[:0], l.pending[1:]...)
		old.Close()
		l.refusedLocked(old.RemoteAddr(), errors.New("handshake dropped: too many at once"))
	}
	l.pending = append(l.pending, raw)
	l.peak = max(l.peak, len(l.pending))
	return true
}

// remove notes a handshake ended and reports whether it was still
// pending (not dropped).
func (l *Listener) remove(raw net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, c := range l.pending {
		if c == raw {
			l.pending = append(l.pending[:i], l.pending[i+1:]...)
			return true
		}
	}
	return false
}

func (l *Listener) handshake(raw net.Conn) {
	raw.SetDeadline(time.Now().Add(l.timeout))
	var who Peer
	tc := tls.Server(raw, l.c.serverConfig(&who))
	err := tc.Handshake()
	if !l.remove(raw) {
		raw.Close() // dropped, or the listener closed
		return
	}
	if err != nil {
		l.mu.Lock()
		l.refusedLocked(raw.RemoteAddr(), err)
		l.mu.Unlock()
		raw.Close()
		return
	}
	raw.SetDeadline(time.Time{})
	select {
	case l.conns <- &Conn{Conn: tc, Peer: who}:
	case <-l.done:
		raw.Close()
	}
}

// refusedLocked logs a refusal, once per address.
func (l *Listener) refusedLocked(a net.Addr, err error) {
	host := a.String()
	if h, _, e := net.SplitHostPort(host); e == nil {
		host = h
	}
	if l.logged[host] {
		return
	}
	if len(l.logged) >= maxLogged {
		clear(l.logged)
	}
	l.logged[host] = true
	l.logf("%s: refused %s: %v (no more refusals of %s are logged)", l.name, a, err, host)
}

// stats returns the handshakes under way and the most there have
// been at once.
func (l *Listener) stats() (pending, peak int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pending), l.peak
}
