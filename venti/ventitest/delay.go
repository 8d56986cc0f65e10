package ventitest

import (
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// A DelayProxy stands for a long path: it forwards TCP connections to
// an upstream address, holding every byte Delay in each direction (so a
// round trip takes twice Delay more), without limiting bandwidth unless
// Rate is set. It is for tests and benchmarks.
type DelayProxy struct {
	l     net.Listener
	up    string
	delay time.Duration
	rate  int64 // bytes a second each way; 0: unlimited

	mu    sync.Mutex // protects following
	conns []net.Conn // client sides, oldest first
	wg    sync.WaitGroup
	done  bool
}

// NewDelayProxy listens on a loopback port and forwards to upstream
// (host:port), holding bytes delay each way and, if rate > 0, sending
// each direction at no more than rate bytes a second.
func NewDelayProxy(upstream string, delay time.Duration, rate int64) (*DelayProxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &DelayProxy{l: l, up: upstream, delay: delay, rate: rate}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's address as a dial string.
func (p *DelayProxy) Addr() string {
	return fmt.Sprintf("tcp!127.0.0.1!%d", p.l.Addr().(*net.TCPAddr).Port)
}

// Conns reports how many connections the proxy carries now.
func (p *DelayProxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Drop breaks the oldest connection, and reports whether there was one.
func (p *DelayProxy) Drop() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.conns) == 0 {
		return false
	}
	p.conns[0].Close()
	p.conns = p.conns[1:]
	return true
}

// Close stops the proxy and breaks its connections.
func (p *DelayProxy) Close() error {
	p.mu.Lock()
	p.done = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	err := p.l.Close()
	p.wg.Wait()
	return err
}

func (p *DelayProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", p.up)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.done {
			p.mu.Unlock()
			c.Close()
			u.Close()
			return
		}
		p.conns = append(p.conns, c)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(u, c)
		go p.pipe(c, u)
	}
}

type chunk struct {
	b  []byte
	at time.Time // when it may go on
}

// pipe copies src to dst, each chunk no sooner than delay after it was
// read; either side failing closes both.
func (p *DelayProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	q := make(chan chunk, 1<<14)
	go func() {
		defer close(q)
		for {
			b := make([]byte, 64<<10)
			n, err := src.Read(b)
			if n > 0 {
				q <- chunk{b[:n], time.Now().Add(p.delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	var next time.Time // rate: when the next byte may go
	for c := range q {
		if d := time.Until(c.at); d > 0 {
			time.Sleep(d)
		}
		if p.rate > 0 {
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
			next = time.Now().Add(time.Duration(int64(len(c.b)) * int64(time.Second) / p.rate))
		}
		if _, err := dst.Write(c.b); err != nil {
			break
		}
	}
	dst.Close()
	src.Close()
	for range q { // let the reader end
	}
	io.Copy(io.Discard, src)
	p.mu.Lock()
	for i, c := range p.conns {
		if c == src || c == dst {
			p.conns = append(p.conns[:i], p.conns[i+1:]...)
			break
		}
	}
	p.mu.Unlock()
}
