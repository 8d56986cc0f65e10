package venti

import (
	"context"
	"sync"
	"time"
)

// A Window bounds the requests a copy keeps in flight to a venti: at
// most Limit requests and MaxBytes bytes at once. A fixed Window keeps
// its Limit; an adaptive one sizes it to the path the way TCP's slow
// start does: it measures the rate at which requests complete over
// periods of a few round trips, and while the window was full and the
// rate rose by a tenth or more it doubles, up to MaxLimit. When a
// doubling brings no such rise it goes back to the size that did, and
// holds; after a while it tries again, in case the path has changed.
// An error halves it.
//
// Acquire before a request, Release after its reply.
type Window struct {
	fixed    bool
	maxLimit int
	maxBytes int64
	now      func() time.Time

	mu       sync.Mutex    // protects following
	wake     chan struct{} // closed and replaced to wake waiters
	waiting  int           // callers waiting in Acquire
	limit    int           // requests
	ops      int           // requests in flight
	bytes    int64         // their bytes (as acquired)
	rtt      time.Duration
	start    time.Time // of the period
	done     int64     // bytes released in the period
	full     bool      // the window was full in the period
	best     float64   // bytes a second at the size that earned it
	prev     int       // the limit before the last doubling
	settled  time.Time // when it last held; zero while growing
	lastRate float64
}

// Window sizes.
const (
	DefaultWindow   = 64       // an adaptive window's first size
	MaxWindow       = 8192     // an adaptive window's largest
	MaxWindowBytes  = 64 << 20 // bytes in flight, either kind
	windowRetry     = 10 * time.Second
	minWindowPeriod = 50 * time.Millisecond
	startRate       = 32e6 // bytes a second a window starts out sized for
)

// NewWindow returns a fixed window of n requests, or, for n <= 0, an
// adaptive one. now is the clock (nil: time.Now).
func NewWindow(n int, now func() time.Time) *Window {
	if now == nil {
		now = time.Now
	}
	w := &Window{fixed: n > 0, limit: n, maxLimit: MaxWindow, maxBytes: MaxWindowBytes, now: now,
		wake: make(chan struct{})}
	if n <= 0 {
		w.limit = DefaultWindow
	}
	w.start = now()
	return w
}

// SetRTT tells an adaptive window the path's round trip, which sets the
// length of its measuring periods and, before it has grown, its size:
// enough for startRate over that round trip (at slot bytes a request),
// so a long path does not spend its first seconds doubling up from 64.
func (w *Window) SetRTT(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.rtt = d
	if !w.fixed && w.prev == 0 {
		n := int(d.Seconds() * startRate / slot)
		w.limit = min(max(w.limit, n), w.maxLimit/4)
	}
}

// Acquire waits until a request of n bytes fits in the window and
// counts it in. A request always fits an empty window, however large.
func (w *Window) Acquire(ctx context.Context, n int) error {
	w.mu.Lock()
	for w.ops > 0 && (w.ops >= w.limit || w.bytes+int64(n) > w.maxBytes) {
		wake := w.wake
		w.waiting++
		w.mu.Unlock()
		var err error
		select {
		case <-wake:
		case <-ctx.Done():
			err = context.Cause(ctx)
		}
		w.mu.Lock()
		w.waiting--
		if err != nil {
			w.mu.Unlock()
			return err
		}
	}
	w.ops++
	w.bytes += int64(n)
	if w.ops >= w.limit {
		w.full = true
	}
	w.mu.Unlock()
	return nil
}

// Release counts out a request Acquired with n bytes, that moved done
// bytes (for the rate), and failed if err is set.
func (w *Window) Release(n, done int, err error) {
	w.mu.Lock()
	w.ops--
	w.bytes -= int64(n)
	w.done += int64(done)
	if err != nil && !w.fixed {
		w.limit = max(w.limit/2, DefaultWindow)
		w.settled = time.Time{}
		w.best = 0
	}
	w.adjust()
	if w.waiting > 0 { // a channel a reply, only when someone waits
		close(w.wake)
		w.wake = make(chan struct{})
	}
	w.mu.Unlock()
}

// adjust ends the period if it has run its length and resizes an
// adaptive window; w.mu is held.
func (w *Window) adjust() {
	now := w.now()
	el := now.Sub(w.start)
	if el < max(2*w.rtt, minWindowPeriod) {
		return
	}
	rate := float64(w.done) / el.Seconds()
	w.lastRate = rate
	switch {
	case w.fixed:
	case !w.settled.IsZero():
		if now.Sub(w.settled) >= windowRetry {
			w.settled = time.Time{}
			w.best = rate
		}
	case !w.full:
		// Not the window's doing: the sender or the path is slower.
		w.best = max(w.best, rate)
	case rate >= 1.1*w.best && w.limit < w.maxLimit:
		w.best = rate
		w.prev = w.limit
		w.limit = min(2*w.limit, w.maxLimit)
	case rate < 1.1*w.best:
		if w.prev > 0 {
			w.limit = w.prev
		}
		w.settled = now
	}
	w.start, w.done, w.full = now, 0, w.ops >= w.limit
}

// WindowStats are a window's state.
type WindowStats struct {
	Limit    int           // requests allowed in flight
	Inflight int64         // bytes in flight now
	Requests int           // requests in flight now
	RTT      time.Duration // as last set
	Rate     float64       // bytes a second over the last period
}

// Stats returns the window's state.
func (w *Window) Stats() WindowStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return WindowStats{Limit: w.limit, Inflight: w.bytes, Requests: w.ops, RTT: w.rtt, Rate: w.lastRate}
}
