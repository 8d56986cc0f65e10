package jobs

import (
	"context"
	"io"
	"os"
	"sync"
)

// eventLog is the text behind /log: lines appended with a time stamp,
// the newest maxLog bytes kept. Positions are byte offsets in the
// whole stream since the engine started. Safe for concurrent use.
//
// With a file, each line is appended to it too, so the log outlives a
// restart: at start the newest maxLog bytes of it are read back. When
// the file passes maxLogFile it is renamed to file.old (the one before
// is dropped) and a new one begun: the files hold at most twice that.
type eventLog struct {
	mu    sync.Mutex // protects following
	buf   []byte     // stream bytes [start, start+len(buf))
	start int64
	wake  chan struct{} // closed and replaced when a line is added
	path  string        // "" for none
	f     *os.File
	size  int64 // of f
}

const (
	maxLog     = 256 << 10
	maxLogFile = 1 << 20
)

func newEventLog() *eventLog { return &eventLog{wake: make(chan struct{})} }

// openEventLog returns an eventLog kept in the file at path, holding
// what the file (and path.old) already has.
func openEventLog(path string) *eventLog {
	l := newEventLog()
	l.path = path
	var old []byte
	for _, p := range []string{path + ".old", path} {
		if b, err := readTail(p, maxLog); err == nil {
			old = append(old, b...)
		}
	}
	if len(old) > 0 {
		l.buf = trimLines(old)
	}
	if f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0600); err == nil {
		l.f = f
		if st, err := f.Stat(); err == nil {
			l.size = st.Size()
		}
	}
	return l
}

// readTail returns the last n bytes of a file.
func readTail(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	off := max(0, st.Size()-n)
	return io.ReadAll(io.NewSectionReader(f, off, st.Size()-off))
}

// trimLines keeps the newest maxLog bytes of b, in whole lines.
func trimLines(b []byte) []byte {
	if len(b) <= maxLog {
		return b
	}
	cut := len(b) - maxLog
	for cut < len(b) && b[cut-1] != '\n' {
		cut++
	}
	return append([]byte(nil), b[cut:]...)
}

// close closes the file.
func (l *eventLog) close() {
	l.mu.Lock()
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
	l.mu.Unlock()
}

// persist appends line to the file, rotating it when full; l.mu is
// held. A failing disk loses file lines, never /log's.
func (l *eventLog) persist(line string) {
	if l.f == nil {
		return
	}
	if l.size+int64(len(line)) > maxLogFile {
		l.f.Close()
		os.Rename(l.path, l.path+".old")
		f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0600)
		l.f, l.size = f, 0
		if err != nil {
			l.f = nil
			return
		}
	}
	n, _ := l.f.WriteString(line)
	l.size += int64(n)
}

func (l *eventLog) add(line string) {
	l.mu.Lock()
	l.persist(line)
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
