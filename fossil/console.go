package fossil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"

	"replfs/venti"
)

// A Console drives a fossil console: a byte stream on which fossil
// echoes every byte typed, prints each command's output, and then a
// prompt ("main: ", the current fsys, or "prompt: " before one is
// chosen), as plan9port src/cmd/fossil/Ccons.c does. Lines that arrive
// on their own, like "archive vac:…" when an archive finishes, are kept
// as events; such a line may begin with the prompt it followed.
//
// One command runs at a time. Safe for concurrent use.
type Console struct {
	rw io.ReadWriteCloser

	cmdMu sync.Mutex // held while a command runs

	mu      sync.Mutex // protects following
	lines   []line     // complete lines not yet taken by a command
	pending string     // the partial line
	prompts int        // prompts seen so far
	after   int        // prompts there must be before the next command
	events  []string
	err     error         // why reading stopped
	wake    chan struct{} // closed and replaced on any change

	readerDone chan struct{}
}

// A line is a complete line of output and how many prompts had been
// seen when it ended.
type line struct {
	text    string
	prompts int
}

// MaxLine is the longest command line fossil takes: its console line
// buffer holds 256 bytes with the terminating NUL, and drops the rest.
const MaxLine = 255

var (
	promptRE  = regexp.MustCompile(`^[^\s:]+: $`)
	archiveRE = regexp.MustCompile(`^(?:[^\s:]+: )?archive vac:([0-9a-f]{40})$`)
)

// ErrClosed is the error of a console whose stream has ended (fossil
// exited or the file was closed).
var ErrClosed = errors.New("fossil console closed")

// NewConsole starts reading rw and waits for fossil's prompt. A fossil
// started with -t prints its prompt when its console opens; poke sends
// an empty line first, for a console fossil has been running behind
// (a posted /srv/fscons on Plan 9), so that it prints one.
func NewConsole(ctx context.Context, rw io.ReadWriteCloser, poke bool) (*Console, error) {
	c := &Console{rw: rw, wake: make(chan struct{}), readerDone: make(chan struct{})}
	go c.reader()
	if poke {
		if _, err := io.WriteString(rw, "\n"); err != nil {
			c.Close()
			return nil, fmt.Errorf("fossil console: %w", err)
		}
	}
	if err := c.waitPrompts(ctx, 1); err != nil {
		c.Close()
		return nil, fmt.Errorf("fossil console: %w", err)
	}
	return c, nil
}

// Close closes the console stream and waits for the reader.
func (c *Console) Close() error {
	err := c.rw.Close()
	<-c.readerDone
	return err
}

// changed wakes waiters; c.mu is held.
func (c *Console) changed() {
	close(c.wake)
	c.wake = make(chan struct{})
}

func (c *Console) reader() {
	defer close(c.readerDone)
	buf := make([]byte, 4096)
	for {
		n, err := c.rw.Read(buf)
		c.mu.Lock()
		for _, b := range buf[:n] {
			switch b {
			case '\r':
			case '\n':
				t := c.pending
				c.pending = ""
				if m := archiveRE.FindStringSubmatch(t); m != nil {
					c.events = append(c.events, "archive vac:"+m[1])
					if !strings.HasPrefix(t, "archive ") {
						c.prompts++ // the line took the place of a prompt
					}
					continue
				}
				c.lines = append(c.lines, line{t, c.prompts})
			default:
				c.pending += string(b)
			}
		}
		// Fossil writes its prompt and waits: a prompt is what is left
		// at the end of what arrived.
		if n > 0 && promptRE.MatchString(c.pending) {
			c.prompts++
		}
		if err != nil {
			if err == io.EOF || errors.Is(err, io.ErrClosedPipe) || errors.Is(err, errPtyClosed) {
				err = ErrClosed
			}
			c.err = err
		}
		c.changed()
		c.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// wait blocks until something changes, ctx is done or the console dies.
func (c *Console) wait(ctx context.Context) error {
	c.mu.Lock()
	w, err := c.wake, c.err
	c.mu.Unlock()
	if err != nil {
		return err
	}
	select {
	case <-w:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// waitPrompts waits until n prompts have been seen.
func (c *Console) waitPrompts(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		ok := c.prompts >= n
		c.mu.Unlock()
		if ok {
			return nil
		}
		if err := c.wait(ctx); err != nil {
			return err
		}
	}
}

// ErrLineTooLong refuses a command fossil would cut short.
var ErrLineTooLong = fmt.Errorf("console command longer than %d bytes", MaxLine)

// Cmd sends a command line and returns its output, without the echo
// and the prompt, once fossil's prompt comes back. Fossil reports
// errors as output, so a command that prints nothing succeeded; Cmd
// returns what fossil said. If ctx ends first, the command may still
// run; the next command waits for its prompt.
func (c *Console) Cmd(ctx context.Context, cmd string) (string, error) {
	if len(cmd) > MaxLine {
		return "", fmt.Errorf("fossil console: %q: %w", cmd[:20]+"…", ErrLineTooLong)
	}
	if cmd == "" || strings.ContainsAny(cmd, "\n\r\x04\b\x15\x17\x7f") {
		return "", fmt.Errorf("fossil console: bad command %q", cmd)
	}
	c.cmdMu.Lock()
	defer c.cmdMu.Unlock()
	c.mu.Lock()
	after := c.after
	c.mu.Unlock()
	if err := c.waitPrompts(ctx, after); err != nil {
		return "", fmt.Errorf("fossil console: waiting for the prompt: %w", err)
	}
	c.mu.Lock()
	c.lines = nil // nothing before the command is its output
	c.pending = ""
	c.after = c.prompts + 1
	c.mu.Unlock()
	if _, err := io.WriteString(c.rw, cmd+"\n"); err != nil {
		return "", fmt.Errorf("fossil console: %w", err)
	}
	// Fossil echoes every line typed; the output is what follows the
	// echo, up to a prompt.
	echo := -1 // prompts seen when the echo ended
	var out []string
	for {
		c.mu.Lock()
		for _, l := range c.lines {
			if echo < 0 {
				if l.text == cmd {
					echo = l.prompts
				}
				continue
			}
			out = append(out, l.text)
		}
		c.lines = c.lines[:0]
		done := echo >= 0 && c.prompts > echo
		c.mu.Unlock()
		if done {
			return strings.Join(out, "\n"), nil
		}
		if err := c.wait(ctx); err != nil {
			return strings.Join(out, "\n"), fmt.Errorf("fossil console: %s: %w", cmd, err)
		}
	}
}

// Events returns the asynchronous lines seen so far ("archive vac:…").
func (c *Console) Events() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.events...)
}

// NextEvent waits until there are more than n events and returns
// event n.
func (c *Console) NextEvent(ctx context.Context, n int) (string, error) {
	for {
		c.mu.Lock()
		if len(c.events) > n {
			e := c.events[n]
			c.mu.Unlock()
			return e, nil
		}
		c.mu.Unlock()
		if err := c.wait(ctx); err != nil {
			return "", err
		}
	}
}

// WaitArchive waits for an "archive vac:" line after the first skip
// events and returns its score.
func (c *Console) WaitArchive(ctx context.Context, skip int) (venti.Score, error) {
	for n := skip; ; n++ {
		e, err := c.NextEvent(ctx, n)
		if err != nil {
			return venti.Score{}, err
		}
		if s, ok := strings.CutPrefix(e, "archive "); ok {
			return venti.ParseScore(s)
		}
	}
}

// Err returns why the console stopped reading, or nil.
func (c *Console) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}
