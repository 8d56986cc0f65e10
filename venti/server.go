package venti

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"replfs/accept"
)

// A Store holds the blocks a Server serves. Implementations are safe for
// concurrent use.
type Store interface {
	// Read returns the block with score s and type t. A missing block is
	// an error for which IsNotFound is true (see NotFound). max is the
	// most the client accepts; a Store may refuse a larger block early,
	// and the Server checks the size in any case.
	Read(ctx context.Context, s Score, t Type, max int) ([]byte, error)
	// Write stores data, never empty and at most MaxLumpSize bytes, as a
	// block of type t and returns its score. The Store may keep data: the
	// Server does not reuse it.
	Write(ctx context.Context, t Type, data []byte) (Score, error)
	// Sync makes durable every block whose Write has returned.
	Sync(ctx context.Context) error
}

// A Server serves the venti protocol over a Store. Requests on one
// connection are served concurrently and answered by tag. Unlike
// plan9port venti it answers Tping with Rping, and a malformed request
// or an invalid block type with Rerror instead of silence.
//
// Every client is assumed hostile: a connection holds at most
// MaxPending bytes of requests and replies (it is not read while it is
// owed more), must finish its handshake in HelloTimeout, and may be
// closed when idle; Serve takes at most MaxConns at once.
type Server struct {
	Store    Store
	ReadOnly bool                          // refuse writes with "read only"
	Logf     func(format string, a ...any) // connection errors; nil discards
	Trace    io.Writer                     // one line per message, as Conn's

	// MaxConns bounds the connections Serve serves at once; one more
	// is closed as it arrives. 0 means accept.DefaultMaxConns.
	MaxConns int
	// HelloTimeout bounds the handshake, version lines and Thello; a
	// connection that has not finished it by then is closed. 0 means
	// DefaultHelloTimeout.
	HelloTimeout time.Duration
	// IdleTimeout, if positive, closes a connection on which, for that
	// long, no request arrived and no reply was written while none was
	// being served: an idle client, or one that stopped reading its
	// replies. 0 means never, as plan9port venti: fossil keeps its
	// venti connection idle between archives and does not redial.
	IdleTimeout time.Duration
	// MaxPending bounds the bytes one connection holds for requests
	// read and replies not yet written; a Tread is charged its count.
	// 0 means DefaultMaxPending.
	MaxPending int

	bufs sync.Pool // frame buffers, shared: an idle connection holds none
}

// DefaultHelloTimeout is the handshake's bound when
// Server.HelloTimeout is 0.
const DefaultHelloTimeout = 30 * time.Second

func (s *Server) logf(format string, a ...any) {
	if s.Logf != nil {
		s.Logf(format, a...)
	}
}

// Serve accepts connections on l and serves each until ctx is done; then
// it closes l and every connection, waits for them and returns nil.
// Accept errors that pass, such as running out of file descriptors,
// are logged and retried; Serve returns any other.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	max := s.MaxConns
	if max <= 0 {
		max = accept.DefaultMaxConns
	}
	var wg sync.WaitGroup
	err := accept.Loop(ctx, l, max, func(format string, a ...any) {
		s.logf("venti on %s: "+format, append([]any{l.Addr()}, a...)...)
	}, &wg, func(c net.Conn) {
		if err := s.ServeConn(ctx, c); err != nil {
			s.logf("venti %s: %v", c.RemoteAddr(), err)
		}
	})
	cancel()
	wg.Wait()
	if err != nil {
		return fmt.Errorf("venti serve: %w", err)
	}
	return nil
}

// ServeConn runs the server side of one connection until the client
// hangs up, sends Tgoodbye, breaks the protocol, times out, or ctx is
// done. It closes rwc. The error says why a connection ended
// abnormally; a hang-up or Tgoodbye returns nil.
func (s *Server) ServeConn(ctx context.Context, rwc io.ReadWriteCloser) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { rwc.Close() })
	defer stop()
	defer rwc.Close()

	maxb := s.MaxPending
	if maxb <= 0 {
		maxb = DefaultMaxPending
	}
	c := &sconn{
		srv: s,
		rwc: rwc,
		br:  bufio.NewReaderSize(rwc, 16<<10),
		fr:  framer{pool: &s.bufs},
		out: make(chan []byte, maxOwed),
		owe: newOwed(maxb),

		writerDone: make(chan struct{}),
	}
	c.dog.close = func() { rwc.Close() }
	if s.Trace != nil {
		c.trace = &tracer{w: s.Trace, prefix: "srv "}
	}
	if err := c.handshake(); err != nil {
		return err
	}
	if s.IdleTimeout > 0 {
		c.dog.d = s.IdleTimeout
		c.dog.start()
		defer c.dog.stop()
	}
	go c.writer()
	err := c.serve(ctx)
	c.wg.Wait()
	close(c.out)
	<-c.writerDone
	if err == nil && ctx.Err() == nil {
		err = c.writeErr
	}
	switch {
	case c.dog.fired.Load():
		return fmt.Errorf("idle for %v", s.IdleTimeout)
	case errors.Is(err, io.EOF) || ctx.Err() != nil:
		return nil
	}
	return err
}

// sconn is the server's state for one connection.
type sconn struct {
	// immutable after the handshake
	srv     *Server
	rwc     io.ReadWriteCloser
	br      *bufio.Reader
	version string
	trace   *tracer

	fr         framer
	out        chan []byte    // reply frames; closed after the handlers end
	owe        *owed          // bounds the requests read and not yet answered
	dog        watchdog       // closes the connection when idle
	wg         sync.WaitGroup // running handlers
	barrier    sync.RWMutex   // Tsync waits for the requests received before it
	writerDone chan struct{}
	writeErr   error // set by writer before writerDone closes
}

// handshake exchanges version lines and hello, in HelloTimeout.
func (c *sconn) handshake() error {
	d := c.srv.HelloTimeout
	if d <= 0 {
		d = DefaultHelloTimeout
	}
	t := time.AfterFunc(d, func() { c.rwc.Close() })
	v, err := exchangeVersions(c.rwc, c.br)
	if err == nil {
		c.version = v
		if err = c.hello(); err != nil {
			err = fmt.Errorf("hello: %w", err)
		}
	} else {
		err = fmt.Errorf("version: %w", err)
	}
	if !t.Stop() {
		return fmt.Errorf("no hello in %v", d)
	}
	return err
}

// hello reads Thello and answers Rhello. plan9port closes the connection
// on a bad hello; we say why with an Rerror first.
func (c *sconn) hello() error {
	b, err := readFrame(c.br, c.version, nil)
	if err != nil {
		return err
	}
	tx, err := UnmarshalFcall(b)
	var why string
	switch {
	case err != nil:
		why = err.Error()
	case tx.Type != Thello:
		why = fmt.Sprintf("bad packet type %d; want Thello %d", tx.Type, Thello)
	case tx.Tag != 0:
		why = "bad tag in hello"
	case tx.Version != c.version:
		why = "bad version in hello"
	}
	if why != "" {
		tag := uint8(0)
		if len(b) >= 2 {
			tag = b[1]
		}
		c.reply(&Fcall{Type: Rerror, Tag: tag, Error: why}, -1)
		return errors.New(why)
	}
	c.trace.in(tx)
	return c.reply(&Fcall{Type: Rhello, Sid: "anonymous"}, -1)
}

// reply sends f, directly during the handshake (cost < 0), else
// through the writer, exchanging the cost taken for its request for
// the frame's buffer.
func (c *sconn) reply(f *Fcall, cost int) error {
	c.trace.out(f)
	frame, err := appendFrame(c.fr.get(len(f.Data)+64), c.version, f)
	if err != nil {
		// Only an over-long Rerror can fail: say something shorter.
		frame, _ = appendFrame(nil, c.version, &Fcall{Type: Rerror, Tag: f.Tag, Error: "reply too large"})
	}
	if cost < 0 {
		_, err := c.rwc.Write(frame)
		return err
	}
	c.owe.give(0, cost-cap(frame))
	c.out <- frame
	return nil
}

// serve reads requests and starts a handler for each, while the
// connection owes few enough replies.
func (c *sconn) serve(ctx context.Context) error {
	n := frameSize(c.version)
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(c.br, hdr[:n]); err != nil {
			return err
		}
		var size int
		if n == 2 {
			size = int(binary.BigEndian.Uint16(hdr[:2]))
		} else {
			size = int(binary.BigEndian.Uint32(hdr[:4]))
		}
		if size < 2 {
			return fmt.Errorf("%w: message of %d bytes", ErrBadPacket, size)
		}
		if size > MaxMessageSize {
			// Skip it without holding it in memory, and say why.
			var tt [2]byte
			if _, err := io.ReadFull(c.br, tt[:]); err != nil {
				return err
			}
			if _, err := io.CopyN(io.Discard, c.br, int64(size-2)); err != nil {
				return err
			}
			c.dog.moved.Add(1)
			why := fmt.Sprintf("%v: message of %d bytes too large", ErrBadPacket, size)
			if tt[0] == Twrite {
				why = errLumpTooLarge.Error()
			}
			c.owe.take(reqCost)
			c.reply(&Fcall{Type: Rerror, Tag: tt[1], Error: why}, reqCost)
			continue
		}
		b := make([]byte, size)
		if _, err := io.ReadFull(c.br, b); err != nil {
			return err
		}
		c.dog.moved.Add(1)
		tx, err := UnmarshalFcall(b)
		if err != nil {
			c.trace.in(&Fcall{Type: b[0], Tag: b[1]})
			c.owe.take(reqCost)
			c.reply(&Fcall{Type: Rerror, Tag: b[1], Error: err.Error()}, reqCost)
			continue
		}
		c.trace.in(tx)
		if tx.Type == Tgoodbye {
			return nil
		}
		cost := cost(tx, size)
		c.owe.take(cost)
		c.dog.busy.Add(1)
		if tx.Type == Tsync {
			// A barrier: wait for every request received before it.
			c.wg.Go(func() {
				c.barrier.Lock()
				c.reply(c.srv.handle(ctx, tx), cost)
				c.barrier.Unlock()
				c.dog.busy.Add(-1)
			})
			continue
		}
		c.barrier.RLock()
		c.wg.Go(func() {
			c.reply(c.srv.handle(ctx, tx), cost)
			c.barrier.RUnlock()
			c.dog.busy.Add(-1)
		})
	}
}

// writer sends replies, flushing when none are queued, and gives back
// what they were charged. After a write error it keeps draining so
// handlers never block.
func (c *sconn) writer() {
	defer close(c.writerDone)
	for frame := range c.out {
		if c.writeErr != nil {
			c.owe.give(1, cap(frame))
			continue
		}
		n, held, err := c.fr.writeBatch(c.rwc, frame, c.out)
		c.dog.moved.Add(1)
		c.owe.give(n, held)
		if err != nil {
			c.writeErr = err
			c.rwc.Close()
		}
	}
}

// handle answers one request.
func (s *Server) handle(ctx context.Context, tx *Fcall) *Fcall {
	rx := &Fcall{Type: tx.Type + 1, Tag: tx.Tag}
	var err error
	switch tx.Type {
	default:
		err = errUnknownReq
	case Tping:
	case Tread:
		if tx.Score == ZeroScore {
			rx.Data = []byte{}
			break
		}
		rx.Data, err = s.Store.Read(ctx, tx.Score, tx.BlockType, int(tx.Count))
		if err == nil && len(rx.Data) > int(tx.Count) {
			err = errReadTooSmall(int(tx.Count), len(rx.Data))
		}
	case Twrite:
		switch {
		case s.ReadOnly:
			err = errReadOnly
		case len(tx.Data) > MaxLumpSize:
			err = errLumpTooLarge
		case len(tx.Data) == 0:
			rx.Score = ZeroScore
		default:
			rx.Score, err = s.Store.Write(ctx, tx.BlockType, tx.Data)
		}
	case Tsync:
		err = s.Store.Sync(ctx)
	}
	if err != nil {
		msg := err.Error()
		if len(msg) > MaxStringSize {
			msg = msg[:MaxStringSize]
		}
		return &Fcall{Type: Rerror, Tag: tx.Tag, Error: msg}
	}
	return rx
}
