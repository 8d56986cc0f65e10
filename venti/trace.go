package venti

import (
	"fmt"
	"io"
	"sync"
)

// A tracer writes one line per message to w. A nil *tracer traces
// nothing.
type tracer struct {
	prefix string
	mu     sync.Mutex // serializes writes to w
	w      io.Writer
}

func (t *tracer) out(f *Fcall) { t.line("->", f) }
func (t *tracer) in(f *Fcall)  { t.line("<-", f) }

func (t *tracer) line(dir string, f *Fcall) {
	if t == nil {
		return
	}
	s := fmt.Sprintf("%s%s %v\n", t.prefix, dir, f)
	t.mu.Lock()
	io.WriteString(t.w, s)
	t.mu.Unlock()
}
