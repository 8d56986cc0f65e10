package venti

import (
	"io"
	"net"
	"runtime"
	"sync"
)

// A framer recycles frame buffers and writes queued frames in batches,
// one writev where the transport allows. Each connection has its own;
// the buffers come from pool, a client connection's own or shared by
// all of a server's, or are not recycled if pool is nil.
type framer struct {
	pool  *sync.Pool // of *[]byte
	batch [][]byte   // the writer goroutine's
	bufs  net.Buffers
}

// get returns an empty buffer with room for n bytes.
func (f *framer) get(n int) []byte {
	if f.pool != nil {
		if p, ok := f.pool.Get().(*[]byte); ok && cap(*p) >= n {
			return (*p)[:0]
		}
	}
	return make([]byte, 0, max(n, 512))
}

func (f *framer) put(b []byte) {
	if f.pool == nil || cap(b) > 2*MaxMessageSize {
		return
	}
	f.pool.Put(&b)
}

// writeBatch writes first and up to 63 frames queued behind it in out,
// then recycles their buffers. It returns how many frames it took and
// the sum of their buffers' capacities, written or not.
func (f *framer) writeBatch(w io.Writer, first []byte, out <-chan []byte) (n, held int, err error) {
	f.batch = append(f.batch[:0], first)
	if len(out) == 0 {
		// Let the goroutines making frames add theirs: a system call per
		// batch costs far more than a frame.
		runtime.Gosched()
	}
	for len(f.batch) < 64 {
		select {
		case b, ok := <-out:
			if !ok {
				goto write
			}
			f.batch = append(f.batch, b)
			continue
		default:
		}
		break
	}
write:
	f.bufs = append(f.bufs[:0], f.batch...)
	_, err = f.bufs.WriteTo(w)
	for i, b := range f.batch {
		held += cap(b)
		f.put(b)
		f.batch[i] = nil
	}
	return len(f.batch), held, err
}
