package jobs

import (
	"context"
	"sync"
)

// eventLog is the text behind /log: lines appended with a time stamp,
// the newest maxLog bytes kept. Positions are byte offsets in the
// whole stream since the engine started. Safe for concurrent use.
type eventLog struct {
	mu    sync.Mutex // protects following
	buf   []byte     // stream bytes [start, start+len(buf))
	start int64
	wake  chan struct{} // closed and replaced when a line is added
}

const maxLog = 256 << 10

func newEventLog() *eventLog { return &eventLog{wake: make(chan struct{})} }

func (l *eventLog) add(line string) {
	l.mu.Lock()
	l.buf = append(l.buf, line...)
	if len(l.buf) > maxLog {
		// Drop whole lines from the front.
		cut := len(l.buf) - maxLog
		for cut < len(l.buf) && l.buf[cut-1] != '\n' {
			cut++
		}
		l.buf = append([]byte(nil), l.buf[cut:]...)
		l.start += int64(cut)
	}
	close(l.wake)
	l.wake = make(chan struct{})
	l.mu.Unlock()
}

// read returns the bytes at pos (or the oldest kept, if pos is older),
// at most max, and the position after them. With nothing at pos it
// waits until a line is added or ctx is done.
func (l *eventLog) read(ctx context.Context, pos int64, max int) ([]byte, int64, error) {
	for {
		l.mu.Lock()
		if pos < l.start {
			pos = l.start
		}
		end := l.start + int64(len(l.buf))
		if pos < end {
			b := l.buf[pos-l.start:]
			if len(b) > max {
				b = b[:max]
			}
			out := append([]byte(nil), b...)
			l.mu.Unlock()
			return out, pos + int64(len(out)), nil
		}
		wake := l.wake
		l.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, pos, ctx.Err()
		}
	}
}

// end returns the position after the newest byte.
func (l *eventLog) end() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.start + int64(len(l.buf))
}
