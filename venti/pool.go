package venti

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// A Pool is several connections to one venti server, for copies over
// long paths: one connection has one-byte tags, so at most 256 requests
// in flight, which at a 50 ms round trip caps it near 40 MB/s whatever
// the link. A Pool spreads requests over its connections, the least
// busy first, and dials another (up to MaxConns) when each has
// PerConn requests in flight. Its Window, which callers Acquire before
// each request, bounds what is in flight across all of them.
//
// A request that fails because its connection broke is tried again on
// another connection; the broken one is dropped. That is safe:
// writes are idempotent, and a venti keeps a block it has answered for
// whether or not the connection that brought it lives on. Sync syncs
// every live connection: on plan9port's venti and ours a sync makes
// every block the server has answered for durable, from whatever
// connection it came, so blocks written through a connection dropped
// since are made durable by the others' syncs.
type Pool struct {
	addr string
	opts PoolOptions
	win  *Window

	mu         sync.Mutex // protects following
	conns      []*poolConn
	dialing    int           // dials under way
	dialed     chan struct{} // closed and replaced when a dial ends
	dialErr    error         // of the last dial, if it failed
	dialFailed time.Time
	closed     bool
	rtt        time.Duration
	dropped    int // connections dropped after breaking
}

type poolConn struct {
	c    *Conn
	busy int // requests in flight on it
}

// PoolOptions control a Pool. The zero value is ready.
type PoolOptions struct {
	// Conns, if positive, is the most connections the pool opens;
	// default 32.
	Conns int
	// Fixed makes the pool open all Conns connections from the start,
	// whatever its window.
	Fixed bool
	// Window is the requests in flight across the pool; 0 sizes itself
	// (NewWindow).
	Window int
	// PerConn is how many requests a connection carries before another
	// is dialed; default 192 (of the 256 its tags allow).
	PerConn int
	// Dialer dials the connections; nil: the zero Dialer.
	Dialer *Dialer
	// Now is the window's clock; nil: time.Now.
	Now func() time.Time
}

// DialPool dials the first connection of a Pool to addr and measures
// the round trip (the best of three Tpings).
func DialPool(ctx context.Context, addr string, opts PoolOptions) (*Pool, error) {
	if opts.Conns <= 0 {
		opts.Conns = 32
	}
	if opts.PerConn <= 0 {
		opts.PerConn = 192
	}
	if opts.Dialer == nil {
		opts.Dialer = new(Dialer)
	}
	p := &Pool{addr: addr, opts: opts, win: NewWindow(opts.Window, opts.Now), dialed: make(chan struct{})}
	c, err := opts.Dialer.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	p.conns = []*poolConn{{c: c}}
	var best time.Duration
	for range 3 {
		t0 := time.Now()
		if err := c.Ping(ctx); err != nil {
			c.Close()
			return nil, err
		}
		if d := time.Since(t0); best == 0 || d < best {
			best = d
		}
	}
	p.mu.Lock()
	p.rtt = best
	p.win.SetRTT(best)
	p.grow() // what the window's first size needs
	p.mu.Unlock()
	return p, nil
}

// Window returns the pool's window: callers Acquire it before each
// request and Release it after, so the pool's in-flight requests fill
// the path and no more.
//
// Requests beyond PerConn a connection wait for more connections; the
// window does not have to know.
func (p *Pool) Window() *Window { return p.win }

// Addr returns the address the pool dials.
func (p *Pool) Addr() string { return p.addr }

// PoolStats describe a Pool.
type PoolStats struct {
	Conns   int
	Dropped int
	RTT     time.Duration
	Window  WindowStats
}

// Stats returns the pool's state.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	s := PoolStats{Conns: len(p.conns), Dropped: p.dropped, RTT: p.rtt}
	p.mu.Unlock()
	s.Window = p.win.Stats()
	return s
}

// get returns the least busy connection, first starting the dials
// the window calls for.
func (p *Pool) get(ctx context.Context) (*poolConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if p.closed {
			return nil, ErrClosed
		}
		p.grow()
		var least *poolConn
		for _, pc := range p.conns {
			if least == nil || pc.busy < least.busy {
				least = pc
			}
		}
		if least != nil {
			least.busy++
			return least, nil
		}
		if p.dialing == 0 {
			return nil, p.dialErr
		}
		dialed := p.dialed
		p.mu.Unlock()
		select {
		case <-dialed:
		case <-ctx.Done():
			p.mu.Lock()
			return nil, context.Cause(ctx)
		}
		p.mu.Lock()
	}
}

// grow starts, in the background, the dials that bring the pool to the
// connections its window needs, PerConn requests each: at once, not one
// after another, since each takes three round trips (TCP, the version
// exchange, Thello). A pool with no connection and no dial under way
// dials one. p.mu is held.
func (p *Pool) grow() {
	want := (p.win.Stats().Limit + p.opts.PerConn - 1) / p.opts.PerConn
	want = max(1, min(want, p.opts.Conns))
	if p.opts.Fixed {
		want = p.opts.Conns
	}
	if len(p.conns) > 0 && p.dialErr != nil && time.Since(p.dialFailed) < time.Second {
		return // the server refuses more for now: make do
	}
	for len(p.conns)+p.dialing < want {
		p.dialing++
		go p.dial()
	}
}

// dial adds a connection to the pool.
func (p *Pool) dial() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := p.opts.Dialer.Dial(ctx, p.addr)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dialing--
	close(p.dialed)
	p.dialed = make(chan struct{})
	if err != nil {
		p.dialErr, p.dialFailed = err, time.Now()
		return
	}
	if p.closed {
		go c.Close()
		return
	}
	p.dialErr = nil
	p.conns = append(p.conns, &poolConn{c: c})
}

// put ends a request on pc; a connection that broke is dropped.
func (p *Pool) put(pc *poolConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pc.busy--
	if pc.c.err() == nil {
		return
	}
	for i, x := range p.conns {
		if x == pc {
			p.conns = append(p.conns[:i], p.conns[i+1:]...)
			p.dropped++
			go pc.c.Close()
			break
		}
	}
}

// broken reports whether err is pc's connection breaking, not an answer
// from the server or the caller giving up.
func broken(ctx context.Context, pc *poolConn, err error) bool {
	var se ServerError
	return err != nil && ctx.Err() == nil && !errors.As(err, &se) && !errors.Is(err, ErrCorrupt) && pc.c.err() != nil
}

// do runs f on a connection, again on another if the connection breaks:
// each break drops a connection, so as many tries as the pool may have
// connections, and two more for the dials that replace them, reach a
// live one unless the server has gone.
func (p *Pool) do(ctx context.Context, f func(*Conn) error) error {
	var err error
	for range p.opts.Conns + 2 {
		var pc *poolConn
		if pc, err = p.get(ctx); err != nil {
			return err
		}
		err = f(pc.c)
		p.put(pc)

		if !broken(ctx, pc, err) {
			return err
		}
	}
	return err
}

// Read reads a block, as Conn.Read.
func (p *Pool) Read(ctx context.Context, s Score, t Type, max int) ([]byte, error) {
	var b []byte
	err := p.do(ctx, func(c *Conn) error {
		var err error
		b, err = c.Read(ctx, s, t, max)
		return err
	})
	return b, err
}

// Write writes a block, as Conn.Write.
func (p *Pool) Write(ctx context.Context, t Type, data []byte) (Score, error) {
	var s Score
	err := p.do(ctx, func(c *Conn) error {
		var err error
		s, err = c.Write(ctx, t, data)
		return err
	})
	return s, err
}

// WriteScore writes a block whose score is known, as Conn.WriteScore.
func (p *Pool) WriteScore(ctx context.Context, t Type, data []byte, s Score) error {
	return p.do(ctx, func(c *Conn) error { return c.WriteScore(ctx, t, data, s) })
}

// Sync syncs every connection (at least one: a pool all of whose
// connections broke dials one to sync through).
func (p *Pool) Sync(ctx context.Context) error {
	p.mu.Lock()
	conns := append([]*poolConn(nil), p.conns...)
	for _, pc := range conns {
		pc.busy++
	}
	p.mu.Unlock()
	if len(conns) == 0 {
		return p.do(ctx, func(c *Conn) error { return c.Sync(ctx) })
	}
	errs := make([]error, len(conns))
	var wg sync.WaitGroup
	for i, pc := range conns {
		wg.Go(func() {
			errs[i] = pc.c.Sync(ctx)
			p.put(pc)
		})
	}
	wg.Wait()
	var live bool
	for i, pc := range conns {
		if errs[i] == nil || !broken(ctx, pc, errs[i]) {
			live = live || errs[i] == nil
			continue
		}
		errs[i] = nil // broken: the others' syncs cover it
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if !live {
		return p.do(ctx, func(c *Conn) error { return c.Sync(ctx) })
	}
	return nil
}

// Close closes every connection.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	for _, pc := range conns {
		pc.c.Close()
	}
	return nil
}

// String describes the pool for status: its round trip, window and
// connections.
func (s PoolStats) String() string {
	return fmt.Sprintf("rtt %v inflight %d window %d conns %d", s.RTT.Round(10*time.Microsecond), s.Window.Inflight, s.Window.Limit, s.Conns)
}
