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
type Server struct {
	Store    Store
	ReadOnly bool                          // refuse writes with "read only"
	Logf     func(format string, a ...any) // connection errors; nil discards
	Trace    io.Writer                     // one line per message, as Conn's
}

func (s *Server) logf(format string, a ...any) {
	if s.Logf != nil {
		s.Logf(format, a...)
	}
}

// Serve accepts connections on l and serves each until ctx is done; then
// it closes l and every connection, waits for them and returns nil. It
// returns the error if Accept fails for another reason.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("venti serve: %w", err)
		}
		wg.Go(func() {
			if err := s.ServeConn(ctx, c); err != nil {
				s.logf("venti %s: %v", c.RemoteAddr(), err)
			}
		})
	}
}

// ServeConn runs the server side of one connection until the client
// hangs up, sends Tgoodbye, breaks the protocol, or ctx is done. It
// closes rwc. The error says why a connection ended abnormally; a
// hang-up or Tgoodbye returns nil.
func (s *Server) ServeConn(ctx context.Context, rwc io.ReadWriteCloser) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { rwc.Close() })
	defer stop()
	defer rwc.Close()

	c := &sconn{
		srv: s,
		rwc: rwc,
		br:  bufio.NewReaderSize(rwc, 64<<10),
		out: make(chan []byte, 256),
		sem: make(chan struct{}, 256),

		writerDone: make(chan struct{}),
	}
	if s.Trace != nil {
		c.trace = &tracer{w: s.Trace, prefix: "srv "}
	}
	v, err := exchangeVersions(rwc, c.br)
	if err != nil {
		return fmt.Errorf("version: %w", err)
	}
	c.version = v
	if err := c.hello(); err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	go c.writer()
	err = c.serve(ctx)
	c.wg.Wait()
	close(c.out)
	<-c.writerDone
	if err == nil && ctx.Err() == nil {
		err = c.writeErr
	}
	if errors.Is(err, io.EOF) || ctx.Err() != nil {
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
	sem        chan struct{}  // bounds the handlers running at once
	wg         sync.WaitGroup // running handlers
	barrier    sync.RWMutex   // Tsync waits for the requests received before it
	writerDone chan struct{}
	writeErr   error // set by writer before writerDone closes
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
		c.reply(&Fcall{Type: Rerror, Tag: tag, Error: why}, true)
		return errors.New(why)
	}
	c.trace.in(tx)
	return c.reply(&Fcall{Type: Rhello, Sid: "anonymous"}, true)
}

// reply sends f, directly during the handshake, else through the writer.
func (c *sconn) reply(f *Fcall, direct bool) error {
	c.trace.out(f)
	frame, err := appendFrame(c.fr.get(len(f.Data)+64), c.version, f)
	if err != nil {
		// Only an over-long Rerror can fail: say something shorter.
		frame, _ = appendFrame(nil, c.version, &Fcall{Type: Rerror, Tag: f.Tag, Error: "reply too large"})
	}
	if direct {
		_, err := c.rwc.Write(frame)
		return err
	}
	c.out <- frame
	return nil
}

// serve reads requests and starts a handler for each.
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
			why := fmt.Sprintf("%v: message of %d bytes too large", ErrBadPacket, size)
			if tt[0] == Twrite {
				why = errLumpTooLarge.Error()
			}
			c.reply(&Fcall{Type: Rerror, Tag: tt[1], Error: why}, false)
			continue
		}
		b := make([]byte, size)
		if _, err := io.ReadFull(c.br, b); err != nil {
			return err
		}
		tx, err := UnmarshalFcall(b)
		if err != nil {
			c.trace.in(&Fcall{Type: b[0], Tag: b[1]})
			c.reply(&Fcall{Type: Rerror, Tag: b[1], Error: err.Error()}, false)
			continue
		}
		c.trace.in(tx)
		if tx.Type == Tgoodbye {
			return nil
		}
		if tx.Type == Tsync {
			// A barrier: wait for every request received before it.
			c.sem <- struct{}{}
			c.wg.Go(func() {
				c.barrier.Lock()
				c.reply(c.srv.handle(ctx, tx), false)
				c.barrier.Unlock()
				<-c.sem
			})
			continue
		}
		c.barrier.RLock()
		c.sem <- struct{}{}
		c.wg.Go(func() {
			c.reply(c.srv.handle(ctx, tx), false)
			<-c.sem
			c.barrier.RUnlock()
		})
	}
}

// writer sends replies, flushing when none are queued. After a write
// error it keeps draining so handlers never block.
func (c *sconn) writer() {
	defer close(c.writerDone)
	for frame := range c.out {
		if c.writeErr != nil {
			continue
		}
		if err := c.fr.writeBatch(c.rwc, frame, c.out); err != nil {
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
