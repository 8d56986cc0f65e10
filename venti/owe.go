package venti

import (
	"sync"
	"sync/atomic"
	"time"
)

// Bounds on what one server connection may owe its client.
const (
	// DefaultMaxPending is the bytes a connection may hold for
	// requests read and replies not yet written when Server.MaxPending
	// is 0.
	DefaultMaxPending = 128 << 10
	// maxOwed is the most requests read whose replies are not yet
	// written, on one connection. The writer's queue has room for all
	// of them, so handlers never wait for it.
	maxOwed = 64
	// reqCost is what a request is charged besides its own bytes and
	// its reply's data: headers, an Rerror's text, bookkeeping.
	reqCost = 1 << 10
)

// owed counts the requests a connection has read and not yet answered
// on the wire, and the bytes they hold. The reader takes before it
// serves a request and so stops reading a client that does not read
// its replies; the writer gives back once a reply is written.
type owed struct {
	mu       sync.Mutex
	more     sync.Cond // signalled on give; only the reader waits
	n        int
	bytes    int
	maxBytes int
}

func newOwed(maxBytes int) *owed {
	o := &owed{maxBytes: maxBytes}
	o.more.L = &o.mu
	return o
}

// take waits until one more request charged cost bytes fits, and counts
// it. When nothing is owed any request fits.
func (o *owed) take(cost int) {
	o.mu.Lock()
	for o.n > 0 && (o.n >= maxOwed || o.bytes+cost > o.maxBytes) {
		o.more.Wait()
	}
	o.n++
	o.bytes += cost
	o.mu.Unlock()
}

// give returns n requests and bytes (negative to charge more).
func (o *owed) give(n, bytes int) {
	o.mu.Lock()
	o.n -= n
	o.bytes -= bytes
	o.mu.Unlock()
	o.more.Signal()
}

// cost is what request tx, size bytes on the wire, is charged until
// its reply is built: itself, and the largest reply it can get.
func cost(tx *Fcall, size int) int {
	n := size + reqCost
	if tx != nil && tx.Type == Tread {
		n += int(min(tx.Count, MaxLumpSize))
	}
	return n
}

// A watchdog closes an idle connection: one on which, for a whole
// period, no frame was read or written and no request was being
// served.
type watchdog struct {
	d     time.Duration
	close func()
	moved atomic.Int64 // frames read and batches written
	busy  atomic.Int64 // requests being served
	fired atomic.Bool  // close was called

	mu   sync.Mutex // protects following
	t    *time.Timer
	last int64 // moved at the previous tick
}

// start arms w: it calls close once the connection is idle.
func (w *watchdog) start() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last = -1
	w.t = time.AfterFunc(w.d, w.tick)
}

func (w *watchdog) tick() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if m := w.moved.Load(); m != w.last || w.busy.Load() > 0 {
		w.last = m
		w.t.Reset(w.d)
		return
	}
	w.fired.Store(true)
	w.close()
}

// stop disarms w.
func (w *watchdog) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.t != nil {
		w.t.Stop()
	}
}
