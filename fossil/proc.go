package fossil

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// StartOptions say how to start a fossil.
type StartOptions struct {
	// Program is the fossil binary; "" means FindProgram's.
	Program string
	// Partition is the fossil partition.
	Partition string
	// UseConfig runs the partition's own configuration (fossil -f),
	// instead of leaving the commands to the caller (SeedCommands).
	UseConfig bool
	// Venti is the venti fossil dials, given to it as $venti.
	Venti string
	// Name names the console: on Plan 9 it is posted as
	// /srv/fscons.Name ("fscons" if Name is ""), as fossilstart did.
	Name string
	// StateDir holds what replfs keeps for the fossil: on Unix the
	// 9pserve wrapper and fossil's standard error, fossil.log.
	StateDir string
	// Env adds to fossil's environment.
	Env []string
}

// SeedCommands are the console commands the ANTS fossilstart sent
// after starting fossil: the partition, open with a 9000-block cache,
// hourly snapshots kept two days and a daily archive at 05:00, a 9P
// service without authentication, and a 9P listener.
func SeedCommands(partition, srvName, listen string) []string {
	if srvName == "" {
		srvName = "fossil"
	}
	if listen == "" {
		listen = "tcp!*!564"
	}
	return []string{
		"fsys main config " + quote(partition),
		"fsys main open -c 9000",
		"fsys main snaptime -s 60 -a 0500 -t 2880",
		"srv -A " + quote(srvName),
		"listen " + quote(listen),
	}
}

// quote quotes a word for fossil's console, which tokenizes like rc.
func quote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t'") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// A Proc is a running fossil and its console.
type Proc struct {
	Console   *Console
	Partition string
	Pid       int

	stop    func(ctx context.Context) error // ends the process
	done    chan struct{}                   // closed when it has exited
	mu      sync.Mutex
	waitErr error
	log     *tail // its standard error, if we have it
}

// Exited is closed when the fossil process has exited.
func (p *Proc) Exited() <-chan struct{} { return p.done }

// Err returns how the process exited (nil while it runs).
func (p *Proc) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waitErr
}

// Stderr returns the last lines fossil wrote to standard error.
func (p *Proc) Stderr() string {
	if p.log == nil {
		return ""
	}
	return p.log.String()
}

// Halt syncs and halts every file system of the fossil and waits for
// its prompt, as fshalt does: the disk is then consistent, and fossil
// refuses everything but unhalt.
func (p *Proc) Halt(ctx context.Context) error {
	for _, cmd := range []string{"fsys all sync", "fsys all halt"} {
		out, err := p.Console.Cmd(ctx, cmd)
		if err != nil {
			return err
		}
		if bad := consoleError(out); bad != "" {
			return fmt.Errorf("%s: %s", cmd, bad)
		}
	}
	return nil
}

// consoleError returns the lines of a command's output that are not
// what fossil prints on success: sync reports "\tmain sync: wrote N
// blocks" and halt nothing.
func consoleError(out string) string {
	var bad []string
	for _, l := range strings.Split(out, "\n") {
		if l == "" || (strings.HasPrefix(l, "\t") && strings.Contains(l, " sync: wrote ")) {
			continue
		}
		bad = append(bad, strings.TrimSpace(l))
	}
	return strings.Join(bad, "; ")
}

// Stop halts the fossil and ends its process: fossil cannot close a
// file system ("close isn't working yet; halt main and then kill
// fossil"), so halting is the clean part and the kill the rest. Only
// this fossil is touched. If the halt fails the process is still ended,
// and the halt's error returned.
func (p *Proc) Stop(ctx context.Context) error {
	var herr error
	select {
	case <-p.done:
	default:
		hctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		herr = p.Halt(hctx)
		cancel()
	}
	err := p.stop(ctx)
	p.Console.Close()
	if herr != nil {
		return fmt.Errorf("halt: %w", herr)
	}
	return err
}

// tail keeps the last few KiB written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

const tailMax = 4096

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if len(t.buf) > tailMax {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-tailMax:]...)
	}
	return len(b), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

var errPtyClosed = errors.New("pty closed")
