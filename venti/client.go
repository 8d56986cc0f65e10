package venti

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net"
	"os"
	"sync"
)

// A Dialer holds options for connecting to a venti server. The zero
// Dialer is ready to use.
type Dialer struct {
	// Uid is sent in Thello; "anonymous" when empty, as libventi does.
	Uid string
	// Trace, if set, receives one line per message sent ("-> Fcall") and
	// received ("<- Fcall"), like plan9port's chattyventi.
	Trace io.Writer
	// DialContext, if set, makes the connection (tests use pipes);
	// nil: a net.Dialer's.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Dial connects to the venti server at addr, a Plan 9 dial string
// (tcp!host!17034, host, tcp!host!venti) or host:port, and performs the
// version exchange and Thello. An empty addr means $venti.
func Dial(ctx context.Context, addr string) (*Conn, error) {
	return new(Dialer).Dial(ctx, addr)
}

// Dial is like the package-level Dial, with d's options.
func (d *Dialer) Dial(ctx context.Context, addr string) (*Conn, error) {
	if addr == "" {
		addr = os.Getenv("venti")
		if addr == "" {
			return nil, errors.New("dial venti: no address and $venti not set")
		}
	}
	if err := CheckDial(addr, "venti"); err != nil {
		return nil, fmt.Errorf("dial venti: %w", err)
	}
	network, a, _ := ParseDialString(addr, "venti")
	dial := d.DialContext
	if dial == nil {
		dial = new(net.Dialer).DialContext
	}
	nc, err := dial(ctx, network, a)
	if err != nil {
		return nil, DialError(addr, err)
	}
	c, err := d.NewConn(ctx, nc, addr)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// A Conn is a client connection to a venti server. It is safe for
// concurrent use: up to 256 requests are in flight at once (the tag is
// one byte) and further callers wait for a free tag. A call whose ctx is
// cancelled stops waiting; its tag stays reserved until the reply
// arrives, since venti has no flush. When the connection breaks, every
// pending and later call fails with the cause.
type Conn struct {
	// immutable after NewConn
	addr    string
	version string
	sid     string
	nc      io.ReadWriteCloser
	br      *bufio.Reader
	trace   *tracer
	fr      framer
	sem     chan struct{} // a token per tag in use
	out     chan []byte   // frames for the writer
	closing chan struct{} // closed by Close: writer sends Tgoodbye and stops
	deadc   chan struct{} // closed when dead is set
	once    sync.Once     // for Close

	readerDone chan struct{}
	writerDone chan struct{}

	mu   sync.Mutex // protects following
	used [4]uint64  // tags in use
	wait [256]*call // the call waiting on each tag
	dead error      // why the connection is unusable; set once
}

type call struct {
	done  chan struct{} // closed when reply or err is set
	reply *Fcall
	err   error
}

// NewConn runs the client side of the venti handshake on rwc and returns
// a Conn that owns it. addr names the peer in errors. ctx bounds the
// handshake only.
func (d *Dialer) NewConn(ctx context.Context, rwc io.ReadWriteCloser, addr string) (*Conn, error) {
	c := &Conn{
		addr:    addr,
		nc:      rwc,
		br:      bufio.NewReaderSize(rwc, 64<<10),
		fr:      framer{pool: new(sync.Pool)},
		sem:     make(chan struct{}, 256),
		out:     make(chan []byte, 256),
		closing: make(chan struct{}),
		deadc:   make(chan struct{}),

		readerDone: make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	if d.Trace != nil {
		c.trace = &tracer{w: d.Trace}
	}
	stop := context.AfterFunc(ctx, func() { rwc.Close() })
	err := c.hello(d.Uid)
	if !stop() {
		err = ctx.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("venti handshake with %s: %w", addr, err)
	}
	go c.reader()
	go c.writer()
	return c, nil
}

func (c *Conn) hello(uid string) error {
	v, err := exchangeVersions(c.nc, c.br)
	if err != nil {
		return err
	}
	c.version = v
	if uid == "" {
		uid = "anonymous"
	}
	tx := &Fcall{Type: Thello, Version: v, Uid: uid}
	c.trace.out(tx)
	if err := WriteFcall(c.nc, v, tx); err != nil {
		return err
	}
	rx, err := ReadFcall(c.br, v)
	if err != nil {
		return err
	}
	c.trace.in(rx)
	if err := checkReply(tx, rx); err != nil {
		return err
	}
	c.sid = rx.Sid
	return nil
}

// Version returns the negotiated protocol version, Version04 or Version02.
func (c *Conn) Version() string { return c.version }

// Addr returns the address the Conn was made with.
func (c *Conn) Addr() string { return c.addr }

// checkReply turns an Rerror into a ServerError and rejects a reply of
// the wrong type, as libventi's vtfcallrpc does.
func checkReply(tx, rx *Fcall) error {
	if rx.Type == Rerror {
		return ServerError(rx.Error)
	}
	if rx.Type != tx.Type+1 {
		return fmt.Errorf("type mismatch: sent %c%d got %c%d",
			"TR"[tx.Type&1], tx.Type>>1, "TR"[rx.Type&1], rx.Type>>1)
	}
	return nil
}

// rpc sends tx and waits for its reply.
func (c *Conn) rpc(ctx context.Context, tx *Fcall) (*Fcall, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.deadc:
		return nil, c.err()
	}
	r := &call{done: make(chan struct{})}
	c.mu.Lock()
	if c.dead != nil {
		c.mu.Unlock()
		<-c.sem
		return nil, c.err()
	}
	tag := c.alloc()
	c.wait[tag] = r
	c.mu.Unlock()

	tx.Tag = tag
	frame, err := appendFrame(c.fr.get(len(tx.Data)+64), c.version, tx)
	if err != nil {
		c.unwait(tag, r)
		return nil, err
	}
	c.trace.out(tx)
	select {
	case c.out <- frame:
	case <-c.deadc:
		// fail has failed r.
	case <-ctx.Done():
		// Never sent: the tag is free again.
		c.unwait(tag, r)
		return nil, ctx.Err()
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if r.err != nil {
		return nil, r.err
	}
	if err := checkReply(tx, r.reply); err != nil {
		return nil, err
	}
	return r.reply, nil
}

// unwait releases the tag of a call that was never sent, unless fail
// has released it already.
func (c *Conn) unwait(tag uint8, r *call) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wait[tag] == r {
		c.wait[tag] = nil
		c.free(tag)
		<-c.sem
	}
}

// alloc returns the lowest free tag, as libventi's gettag does, so a
// caller with one request at a time always uses tag 0. c.mu is held and
// a tag is known to be free (the caller holds a sem token).
func (c *Conn) alloc() uint8 {
	for i, w := range c.used {
		if w != ^uint64(0) {
			b := bits.TrailingZeros64(^w)
			c.used[i] |= 1 << b
			return uint8(i*64 + b)
		}
	}
	panic("venti: no free tag")
}

// free marks tag unused; c.mu is held.
func (c *Conn) free(tag uint8) {
	c.used[tag/64] &^= 1 << (tag % 64)
}

func (c *Conn) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dead
}

// fail makes the connection unusable with cause err, closes it and fails
// every pending call. Only the first cause is kept.
func (c *Conn) fail(err error) {
	c.mu.Lock()
	if c.dead != nil {
		c.mu.Unlock()
		return
	}
	c.dead = err
	close(c.deadc)
	var pending []*call
	for tag, r := range c.wait {
		if r != nil {
			pending = append(pending, r)
			c.wait[tag] = nil
			c.free(uint8(tag))
		}
	}
	c.mu.Unlock()
	c.nc.Close()
	for _, r := range pending {
		r.err = err
		close(r.done)
		<-c.sem
	}
}

// reader delivers replies to the calls waiting on their tags.
func (c *Conn) reader() {
	defer close(c.readerDone)
	for {
		b, err := readFrame(c.br, c.version, nil)
		if err != nil {
			c.fail(fmt.Errorf("venti %s: %w", c.addr, err))
			return
		}
		rx, err := UnmarshalFcall(b)
		if err != nil {
			c.fail(fmt.Errorf("venti %s: %w", c.addr, err))
			return
		}
		c.trace.in(rx)
		c.mu.Lock()
		r := c.wait[rx.Tag]
		if r != nil {
			c.wait[rx.Tag] = nil
			c.free(rx.Tag)
		}
		c.mu.Unlock()
		if r == nil {
			c.fail(fmt.Errorf("venti %s: unexpected reply tag %d", c.addr, rx.Tag))
			return
		}
		<-c.sem
		r.reply = rx
		close(r.done)
	}
}

// writer sends frames, flushing when no more are queued, so pipelined
// requests share system calls.
func (c *Conn) writer() {
	defer close(c.writerDone)
	for {
		select {
		case b := <-c.out:
			if _, _, err := c.fr.writeBatch(c.nc, b, c.out); err != nil {
				c.fail(fmt.Errorf("venti %s: %w", c.addr, err))
				return
			}
		case <-c.closing:
			bye := &Fcall{Type: Tgoodbye}
			c.trace.out(bye)
			if frame, err := appendFrame(nil, c.version, bye); err == nil {
				c.nc.Write(frame)
			}
			return
		case <-c.deadc:
			return
		}
	}
}

// Close sends Tgoodbye, closes the connection and fails pending calls
// with ErrClosed.
func (c *Conn) Close() error {
	c.once.Do(func() {
		close(c.closing)
		<-c.writerDone // Tgoodbye is out, unless the connection was dead
		c.fail(ErrClosed)
		<-c.readerDone
	})
	return nil
}

// Read returns the block with the given score and type, at most max
// bytes long. Reading ZeroScore returns an empty block without a round
// trip. The data is checked against the score (ErrCorrupt if it does
// not match). A missing block is a ServerError for which IsNotFound is
// true.
func (c *Conn) Read(ctx context.Context, score Score, typ Type, max int) ([]byte, error) {
	if score == ZeroScore {
		return []byte{}, nil
	}
	if max < 0 || (c.version == Version02 && max >= 1<<16) || int64(max) > 1<<32-1 {
		return nil, fmt.Errorf("read %v: count %d too large for protocol %s", score, max, c.version)
	}
	rx, err := c.rpc(ctx, &Fcall{Type: Tread, Score: score, BlockType: typ, Count: uint32(max)})
	if err != nil {
		return nil, err
	}
	if len(rx.Data) > max {
		return nil, fmt.Errorf("read %v: %w: read returned too much data", score, ErrCorrupt)
	}
	if got := Sum(rx.Data); got != score {
		return nil, fmt.Errorf("%w: read asked for %v got %v", ErrCorrupt, score, got)
	}
	return rx.Data, nil
}

// Write stores data as a block of type typ and returns its score,
// checking the server's score against its own SHA-1. An empty block
// returns ZeroScore without a round trip.
func (c *Conn) Write(ctx context.Context, typ Type, data []byte) (Score, error) {
	if len(data) == 0 {
		return ZeroScore, nil
	}
	want := Sum(data)
	rx, err := c.rpc(ctx, &Fcall{Type: Twrite, BlockType: typ, Data: data})
	if err != nil {
		return Score{}, err
	}
	if rx.Score != want {
		return Score{}, fmt.Errorf("%w: sha1 hash mismatch: want %v got %v", ErrCorrupt, want, rx.Score)
	}
	return want, nil
}

// WriteScore is Write for data whose score the caller already knows,
// having checked it (as arena.Scan does when it reads a clump): the
// server's score is compared with it, without hashing the data again.
func (c *Conn) WriteScore(ctx context.Context, typ Type, data []byte, score Score) error {
	if len(data) == 0 {
		return nil
	}
	rx, err := c.rpc(ctx, &Fcall{Type: Twrite, BlockType: typ, Data: data})
	if err != nil {
		return err
	}
	if rx.Score != score {
		return fmt.Errorf("%w: sha1 hash mismatch: want %v got %v", ErrCorrupt, score, rx.Score)
	}
	return nil
}

// Sync asks the server to make every block written so far durable.
func (c *Conn) Sync(ctx context.Context) error {
	_, err := c.rpc(ctx, &Fcall{Type: Tsync})
	return err
}

// Ping checks that the server answers. plan9port venti answers Tping
// with Rerror "unknown request": any reply means it is alive.
func (c *Conn) Ping(ctx context.Context) error {
	_, err := c.rpc(ctx, &Fcall{Type: Tping})
	var se ServerError
	if errors.As(err, &se) {
		return nil
	}
	return err
}
