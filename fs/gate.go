package fs

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"9fans.net/go/plan9"
)

// The gate stands between a connection and its srv9p.Server, which
// runs every request in a goroutine of its own as soon as it has read
// it, and drops the connection on a message it cannot decode. The gate
// reads each message first and
//
//   - answers itself, with Rerror, a message srv9p would mishandle: an
//     unknown type, a malformed body, a walk of more than 16 names, a
//     Tversion with an msize too small to carry a reply, a tag already
//     in flight;
//   - holds a request that names a fid until every request before it
//     that creates or changes that fid (Tattach, Twalk to a new fid or
//     in place, Topen, Tcreate, Tclunk, Tremove) has been answered, so
//     a client may pipeline Twalk and Topen as the Plan 9 kernel does
//     not;
//   - stops reading while maxInFlight requests are unanswered, so a
//     client that sends without reading replies holds no more than that.
//
// A message whose size field is below 7 or above msize cannot be
// resynchronised; the gate hangs up, as srv9p does.
//
// The gate is srv9p's input and output: it sees every reply as one
// Write, and a request is in flight from its read to its reply.
type gate struct {
	ctx context.Context // done when the connection goes
	rwc io.ReadWriteCloser
	br  *bufio.Reader

	msize atomic.Uint32 // largest message either way, as negotiated

	slots chan struct{} // one per request in flight

	mu      sync.Mutex          // protects following
	tags    map[uint16]*pending // requests in flight
	changer map[uint32]*pending // in flight, creating or changing the fid

	buf []byte // message being handed to srv9p; only srv9p's reader touches it

	wmu sync.Mutex // one message at a time to rwc
}

// A pending request.
type pending struct {
	changes []uint32      // fids it creates or changes
	done    chan struct{} // closed when it has been answered
}

const (
	// maxInFlight is how many requests one connection may have
	// unanswered: room for every blocked read of /log and more.
	maxInFlight = maxBlockedReads + 64

	// minMsize is the smallest msize we agree to: room for any reply
	// but Rread and Rstat, which are cut to fit.
	minMsize = 256
)

func newGate(ctx context.Context, rwc io.ReadWriteCloser) *gate {
	g := &gate{
		ctx:     ctx,
		rwc:     rwc,
		br:      bufio.NewReaderSize(rwc, 8192),
		slots:   make(chan struct{}, maxInFlight),
		tags:    map[uint16]*pending{},
		changer: map[uint32]*pending{},
	}
	g.msize.Store(msize)
	return g
}

// Read gives srv9p the next message that may go on.
func (g *gate) Read(p []byte) (int, error) {
	for len(g.buf) == 0 {
		if err := g.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	return n, nil
}

// next reads messages until one may go to srv9p, answering the rest,
// and leaves it in g.buf.
func (g *gate) next() error {
	var size [4]byte
	if _, err := io.ReadFull(g.br, size[:]); err != nil {
		return err
	}
	n := binary.LittleEndian.Uint32(size[:])
	if n < 7 || n > g.msize.Load() {
		return fmt.Errorf("bad message size %d", n)
	}
	m := make([]byte, n)
	copy(m, size[:])
	if _, err := io.ReadFull(g.br, m[4:]); err != nil {
		return err
	}
	h, err := parse(m)
	if err != nil {
		return g.rerror(h.tag, err)
	}
	if h.typ == plan9.Tversion {
		if h.msize < minMsize {
			return g.rerror(h.tag, errors.New("msize too small"))
		}
		g.msize.Store(min(g.msize.Load(), h.msize))
	}
	select {
	case g.slots <- struct{}{}:
	case <-g.ctx.Done():
		return g.ctx.Err()
	}
	var wait []*pending
	g.mu.Lock()
	if g.tags[h.tag] != nil {
		g.mu.Unlock()
		<-g.slots
		return g.rerror(h.tag, errors.New("duplicate tag"))
	}
	for _, fid := range append(h.uses, h.changes...) {
		if p := g.changer[fid]; p != nil {
			wait = append(wait, p)
		}
	}
	p := &pending{changes: h.changes, done: make(chan struct{})}
	g.tags[h.tag] = p
	g.mu.Unlock()
	for _, w := range wait {
		select {
		case <-w.done:
		case <-g.ctx.Done():
			return g.ctx.Err()
		}
	}
	// Only now: the requests waited for are answered, so none of them
	// is the fid's changer any more.
	g.mu.Lock()
	for _, fid := range h.changes {
		g.changer[fid] = p
	}
	g.mu.Unlock()
	g.buf = m
	return nil
}

// rerror answers the request tag with an error, without srv9p.
func (g *gate) rerror(tag uint16, err error) error {
	f := &plan9.Fcall{Type: plan9.Rerror, Tag: tag, Ename: err.Error()}
	b, err := f.Bytes()
	if err != nil {
		return err
	}
	g.wmu.Lock()
	defer g.wmu.Unlock()
	_, err = g.rwc.Write(b)
	return err
}

// Write takes one reply from srv9p: the request it answers is no
// longer in flight.
func (g *gate) Write(b []byte) (int, error) {
	if len(b) >= 7 {
		tag := binary.LittleEndian.Uint16(b[5:7])
		g.mu.Lock()
		if p := g.tags[tag]; p != nil {
			delete(g.tags, tag)
			for _, fid := range p.changes {
				if g.changer[fid] == p {
					delete(g.changer, fid)
				}
			}
			close(p.done)
			<-g.slots
		}
		g.mu.Unlock()
	}
	g.wmu.Lock()
	defer g.wmu.Unlock()
	if _, err := g.rwc.Write(b); err != nil {
		// The client has gone, or cannot take replies: hang up, and
		// spare srv9p logging each reply it can no longer send.
		g.rwc.Close()
	}
	return len(b), nil
}

func (g *gate) Close() error { return g.rwc.Close() }

// A header is what the gate needs of a request.
type header struct {
	typ     uint8
	tag     uint16
	msize   uint32   // Tversion
	uses    []uint32 // fids it reads
	changes []uint32 // fids it creates or changes
}

var errWalkNames = fmt.Errorf("walk of more than %d names", plan9.MAXWELEM)

// parse checks that m, a whole message with its size, is a request
// srv9p can decode, and returns its header. The tag is set even when
// it fails, if m holds one.
func parse(m []byte) (header, error) {
	d := decoder{b: m[4:]}
	var h header
	h.typ = d.u8()
	h.tag = d.u16()
	name, ok := tnames[h.typ]
	if !ok {
		return h, fmt.Errorf("unknown message type %d", h.typ)
	}
	switch h.typ {
	case plan9.Tversion:
		h.msize = d.u32()
		d.str()
	case plan9.Tauth:
		h.changes = []uint32{d.u32()}
		d.str()
		d.str()
	case plan9.Tattach:
		h.changes = []uint32{d.u32()}
		if afid := d.u32(); afid != plan9.NOFID {
			h.uses = []uint32{afid}
		}
		d.str()
		d.str()
	case plan9.Tflush:
		d.u16()
	case plan9.Twalk:
		fid, newfid := d.u32(), d.u32()
		if fid == newfid {
			h.changes = []uint32{fid}
		} else {
			h.uses = []uint32{fid}
			h.changes = []uint32{newfid}
		}
		n := d.u16()
		if n > plan9.MAXWELEM && d.err == nil {
			return h, errWalkNames
		}
		for range n {
			d.str()
		}
	case plan9.Topen:
		h.changes = []uint32{d.u32()}
		d.u8()
	case plan9.Tcreate:
		h.changes = []uint32{d.u32()}
		d.str()
		d.u32()
		d.u8()
	case plan9.Tread:
		h.uses = []uint32{d.u32()}
		d.u64()
		d.u32()
	case plan9.Twrite:
		h.uses = []uint32{d.u32()}
		d.u64()
		d.bytes(int(d.u32()))
	case plan9.Tclunk, plan9.Tremove:
		h.changes = []uint32{d.u32()}
	case plan9.Tstat:
		h.uses = []uint32{d.u32()}
	case plan9.Twstat:
		h.uses = []uint32{d.u32()}
		d.bytes(int(d.u16()))
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errors.New("trailing bytes")
	}
	if d.err != nil {
		return h, fmt.Errorf("malformed %s", name)
	}
	return h, nil
}

var tnames = map[uint8]string{
	plan9.Tversion: "Tversion", plan9.Tauth: "Tauth", plan9.Tattach: "Tattach",
	plan9.Tflush: "Tflush", plan9.Twalk: "Twalk", plan9.Topen: "Topen",
	plan9.Tcreate: "Tcreate", plan9.Tread: "Tread", plan9.Twrite: "Twrite",
	plan9.Tclunk: "Tclunk", plan9.Tremove: "Tremove", plan9.Tstat: "Tstat",
	plan9.Twstat: "Twstat",
}

// A decoder reads little-endian fields from b; past its end it sets
// err and returns zeros.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil || n < 0 || n > len(d.b) {
		d.err = io.ErrUnexpectedEOF
		return nil
	}
	x := d.b[:n]
	d.b = d.b[n:]
	return x
}

func (d *decoder) u8() uint8 {
	if b := d.bytes(1); b != nil {
		return b[0]
	}
	return 0
}

func (d *decoder) u16() uint16 {
	if b := d.bytes(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if b := d.bytes(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if b := d.bytes(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (d *decoder) str() { d.bytes(int(d.u16())) }
