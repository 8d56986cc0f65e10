// Package accept is the accept loop of replfs's listeners, 9P's (fs) and
// venti's: it survives running out of file descriptors, caps the
// connections served at once, and gives back what a crowd of them cost.
package accept

import (
	"context"
	"errors"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxConns is the connections a Server serves at once when
// MaxConns is 0.
const DefaultMaxConns = 1000

// crowd is the connections at once after which a listener, once they
// have all gone, returns the memory they cost to the system at once.
const crowd = 32

// Loop runs a server's accept loop: each connection accepted on l
// is served by serve in a goroutine counted in wg, at most max at once;
// one past that is closed at once. A temporary error, such as running
// out of file descriptors, is retried with backoff and logged once per
// spell. Loop returns nil when ctx is done, or any other Accept error.
func Loop(ctx context.Context, l net.Listener, max int, logf func(string, ...any), wg *sync.WaitGroup, serve func(net.Conn)) error {
	slots := make(chan struct{}, max)
	var crowded atomic.Bool // crowd or more connections since they last all went
	var delay time.Duration
	full := false
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !temporary(err) {
				return err
			}
			if delay == 0 {
				logf("%v; retrying", err)
				delay = 5 * time.Millisecond
			} else {
				delay = min(2*delay, time.Second)
			}
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
			continue
		}
		delay = 0
		select {
		case slots <- struct{}{}:
			if len(slots) >= crowd {
				crowded.Store(true)
			}
			full = false
		default:
			if !full {
				logf("%d connections: refusing %s and more", max, c.RemoteAddr())
				full = true
			}
			c.Close()
			continue
		}
		wg.Go(func() {
			defer func() {
				<-slots
				if len(slots) == 0 && crowded.CompareAndSwap(true, false) {
					// The crowd has gone: give back what it cost now,
					// not when the runtime gets round to it (once the
					// requests its connections left have wound down).
					time.AfterFunc(time.Second, debug.FreeOSMemory)
				}
			}()
			serve(c)
		})
	}
}

// temporary reports whether an Accept error will likely pass: EMFILE,
// ENFILE, EINTR and the like.
func temporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}
