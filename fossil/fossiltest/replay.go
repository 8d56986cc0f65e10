// Package fossiltest has test doubles for fossil: a console that
// replays a real fossil console transcript byte for byte.
package fossiltest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"
)

// A Step is one command of a transcript and what fossil wrote for it:
// Out (its echo, its output and the prompt that followed), then, if
// fossil printed a line on its own before the next command, Async.
type Step struct {
	Cmd   string
	Out   []byte
	Async []byte
}

var (
	promptRE = regexp.MustCompile(`^[^\s:]+: `)
	asyncRE  = regexp.MustCompile(`^archive vac:[0-9a-f]{40}$`)
)

// ParseTranscript splits the bytes a fossil console wrote into what came
// before the first command and the steps. A command is the rest of a
// line after a prompt, unless that rest is an asynchronous line
// ("archive vac:…"); after an asynchronous line, the whole next line is
// a command, as fossil printed no prompt again. Concatenating Head and
// each step's Out and Async gives back b.
func ParseTranscript(b []byte) (head []byte, steps []Step, err error) {
	lines := strings.SplitAfter(string(b), "\n")
	cur := &head
	afterAsync := false
	var st *Step
	for _, l := range lines {
		if l == "" {
			continue
		}
		body := strings.TrimSuffix(l, "\n")
		var cmd, prompt string
		switch {
		case afterAsync:
			cmd = body
		case promptRE.MatchString(body):
			prompt = promptRE.FindString(body)
			cmd = body[len(prompt):]
		}
		afterAsync = false
		if asyncRE.MatchString(cmd) {
			// The prompt belongs to the step before; the line to its Async.
			if st == nil {
				return nil, nil, fmt.Errorf("asynchronous line %q before any command", body)
			}
			*cur = append(*cur, prompt...)
			st.Async = append(st.Async, cmd+"\n"...)
			afterAsync = true
			continue
		}
		if cmd == "" || !strings.HasSuffix(l, "\n") {
			*cur = append(*cur, l...) // output, or the last prompt
			continue
		}
		*cur = append(*cur, prompt...)
		steps = append(steps, Step{Cmd: cmd, Out: []byte(cmd + "\n")})
		st = &steps[len(steps)-1]
		cur = &st.Out
	}
	return head, steps, nil
}

// A Replay is a fossil console that answers the transcript's commands,
// in order, with exactly the transcript's bytes. Asynchronous lines come
// AsyncDelay after the command before them, and the next command is
// answered only after them, so the bytes written are always the
// transcript's. A command other than the one expected, or any command
// after the last, gets no answer at all: a fossil that hangs.
type Replay struct {
	Head       []byte
	Steps      []Step
	AsyncDelay time.Duration

	in   *io.PipeReader // what the console user writes
	out  *io.PipeWriter // what the console user reads
	user userEnd

	mu      sync.Mutex
	written bytes.Buffer
	cmds    []string
	err     error
}

type userEnd struct {
	io.Reader
	io.Writer
	close func() error
}

func (u userEnd) Close() error { return u.close() }

// NewReplay starts replaying: it writes Head at once.
func NewReplay(head []byte, steps []Step, asyncDelay time.Duration) *Replay {
	r := &Replay{Head: head, Steps: steps, AsyncDelay: asyncDelay}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	r.in, r.out = inR, outW
	r.user = userEnd{Reader: outR, Writer: inW, close: func() error {
		inW.Close()
		outR.Close()
		return nil
	}}
	go r.run()
	return r
}

// Conn returns the user's end: what fossil writes is read from it, and
// commands are written to it.
func (r *Replay) Conn() io.ReadWriteCloser { return r.user }

func (r *Replay) write(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	if _, err := r.out.Write(b); err != nil {
		return false
	}
	r.mu.Lock()
	r.written.Write(b)
	r.mu.Unlock()
	return true
}

func (r *Replay) run() {
	defer r.out.Close()
	if !r.write(r.Head) {
		return
	}
	br := bufio.NewReader(r.in)
	next := 0
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.TrimSuffix(l, "\n")
		r.mu.Lock()
		r.cmds = append(r.cmds, cmd)
		r.mu.Unlock()
		if next >= len(r.Steps) || r.Steps[next].Cmd != cmd {
			r.mu.Lock()
			if next < len(r.Steps) && r.err == nil {
				r.err = fmt.Errorf("command %d: got %q, want %q", next, cmd, r.Steps[next].Cmd)
			}
			r.mu.Unlock()
			continue // no answer: a hung fossil
		}
		s := r.Steps[next]
		next++
		if !r.write(s.Out) {
			return
		}
		if len(s.Async) > 0 {
			time.Sleep(r.AsyncDelay)
			if !r.write(s.Async) {
				return
			}
		}
	}
}

// Written returns every byte written to the console user so far.
func (r *Replay) Written() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.written.Bytes())
}

// Commands returns the commands received, in order.
func (r *Replay) Commands() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.cmds...)
}

// Err returns the first command that was not the one expected.
func (r *Replay) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Hangup ends the console as a dying fossil does: reads get EOF.
func (r *Replay) Hangup() { r.out.Close() }
