package ventitest

import (
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// BufferedPipe returns the two ends of an in-memory connection whose
// writes do not wait for the reader (up to 256 writes queue each way),
// unlike net.Pipe's: the venti handshake has both sides write first.
// Everything waits on channels, so it runs on synctest's clock.
func BufferedPipe() (net.Conn, net.Conn) {
	ab, ba := make(chan []byte, 256), make(chan []byte, 256)
	done := make(chan struct{})
	var once sync.Once
	closeFn := func() { once.Do(func() { close(done) }) }
	return &pipeEnd{in: ba, out: ab, done: done, close: closeFn},
		&pipeEnd{in: ab, out: ba, done: done, close: closeFn}
}

type pipeEnd struct {
	in, out chan []byte
	done    chan struct{}
	close   func()
	rest    []byte
}

func (p *pipeEnd) Read(b []byte) (int, error) {
	if len(p.rest) == 0 {
		select {
		case p.rest = <-p.in:
		case <-p.done:
			select {
			case p.rest = <-p.in:
			default:
				return 0, io.EOF
			}
		}
	}
	n := copy(b, p.rest)
	p.rest = p.rest[n:]
	return n, nil
}

func (p *pipeEnd) Write(b []byte) (int, error) {
	select {
	case <-p.done:
		return 0, io.ErrClosedPipe
	default:
	}
	select {
	case p.out <- append([]byte(nil), b...):
		return len(b), nil
	case <-p.done:
		return 0, io.ErrClosedPipe
	}
}

func (p *pipeEnd) Close() error                     { p.close(); return nil }
func (p *pipeEnd) LocalAddr() net.Addr              { return pipeAddr{} }
func (p *pipeEnd) RemoteAddr() net.Addr             { return pipeAddr{} }
func (p *pipeEnd) SetDeadline(time.Time) error      { return os.ErrNoDeadline }
func (p *pipeEnd) SetReadDeadline(time.Time) error  { return os.ErrNoDeadline }
func (p *pipeEnd) SetWriteDeadline(time.Time) error { return os.ErrNoDeadline }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }
