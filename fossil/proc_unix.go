//go:build !plan9

package fossil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// FindProgram returns the fossil binary to run: plan9port's
// $PLAN9/bin/fossil/fossil. (A "fossil" found on $PATH is often the
// unrelated fossil-scm, so it is not guessed at.)
func FindProgram() (string, error) {
	f := DefaultProgram(os.Getenv)
	if f == "" {
		return "", errors.New("no fossil program: $PLAN9 is not set")
	}
	if _, err := os.Stat(f); err != nil {
		return "", fmt.Errorf("no fossil program: %s does not exist", f)
	}
	return f, nil
}

// DefaultProgram returns the fossil binary replfs runs unless told
// otherwise: $PLAN9/bin/fossil/fossil, "" without $PLAN9.
func DefaultProgram(getenv func(string) string) string {
	if p := getenv("PLAN9"); p != "" {
		return filepath.Join(p, "bin", "fossil", "fossil")
	}
	return ""
}

// Start starts fossil on a pseudo-terminal, the only console plan9port's
// fossil has (-t; srv -p does nothing there), and waits for its prompt.
// The terminal is the process's controlling terminal, as fossil opens
// /dev/tty. NOLIBTHREADDAEMONIZE keeps fossil in the foreground so it
// reads the terminal; a 9pserve wrapper first on $PATH removes it again
// for the 9pserve that srv starts, which otherwise dies. The fossil runs
// in the partition's directory (a config block may name it relatively)
// and lives until Stop, or until replfs exits and the terminal hangs up.
func Start(ctx context.Context, o StartOptions) (*Proc, error) {
	prog := o.Program
	if prog == "" {
		var err error
		if prog, err = FindProgram(); err != nil {
			return nil, err
		}
	}
	part, err := filepath.Abs(o.Partition)
	if err != nil {
		return nil, err
	}
	if o.StateDir == "" {
		return nil, errors.New("fossil: no state directory")
	}
	if err := os.MkdirAll(o.StateDir, 0700); err != nil {
		return nil, err
	}
	env, err := fossilEnv(o)
	if err != nil {
		return nil, err
	}
	master, slave, err := openPty()
	if err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(filepath.Join(o.StateDir, "fossil.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0600)
	if err != nil {
		master.Close()
		slave.Close()
		return nil, err
	}
	args := []string{"-t"}
	if o.UseConfig {
		args = append(args, "-f", part)
	}
	t := &tail{}
	cmd := exec.Command(prog, args...)
	cmd.Dir = filepath.Dir(part)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout = slave, slave
	// Fossil replaces its standard input and output with /dev/null at
	// once; were they the terminal's last descriptors, the kernel would
	// hang it up and fossil would die of SIGHUP before it opens
	// /dev/tty. A third one, which fossil leaves alone, keeps it.
	cmd.ExtraFiles = []*os.File{slave}
	cmd.Stderr = io.MultiWriter(logf, t)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	err = cmd.Start()
	slave.Close()
	if err != nil {
		master.Close()
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", prog, err)
	}
	p := &Proc{Partition: part, Pid: cmd.Process.Pid, done: make(chan struct{}), log: t}
	go func() {
		err := cmd.Wait()
		logf.Close()
		p.mu.Lock()
		if err == nil {
			err = errors.New("exited")
		}
		p.waitErr = err
		p.mu.Unlock()
		close(p.done)
	}()
	p.stop = func(ctx context.Context) error { return p.kill(ctx) }
	// The console, or the process's death, whichever comes first.
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-p.done:
			cancel(errors.New("fossil exited"))
		case <-cctx.Done():
		}
	}()
	c, err := NewConsole(cctx, master, false)
	if err != nil {
		select {
		case <-p.done:
		case <-time.After(5 * time.Second): // the console died first
		}
		exited := p.Err() != nil
		p.kill(context.Background())
		if exited && ctx.Err() == nil {
			// Its last words, without its name.
			why := strings.TrimPrefix(lastLine(t.String()), prog+": ")
			if why == "" {
				why = p.Err().Error()
			}
			return nil, fmt.Errorf("fossil exited: %s", why)
		}
		return nil, fmt.Errorf("start %s: %w", prog, err)
	}
	p.Console = c
	return p, nil
}

// fossilEnv is fossil's environment: ours, $venti, and the wrapper.
func fossilEnv(o StartOptions) ([]string, error) {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "venti=") || strings.HasPrefix(kv, "NOLIBTHREADDAEMONIZE=") || strings.HasPrefix(kv, "PATH=") {
			continue
		}
		env = append(env, kv)
	}
	path := os.Getenv("PATH")
	if real := find9pserve(); real != "" {
		dir := filepath.Join(o.StateDir, "bin")
		if err := os.MkdirAll(dir, 0700); err != nil {
			return nil, err
		}
		script := "#!/bin/sh\n# written by replfs: 9pserve must not inherit NOLIBTHREADDAEMONIZE\nunset NOLIBTHREADDAEMONIZE\nexec '" +
			strings.ReplaceAll(real, "'", `'\''`) + "' \"$@\"\n"
		if err := writeExecutable(filepath.Join(dir, "9pserve"), script); err != nil {
			return nil, err
		}
		path = dir + string(os.PathListSeparator) + path
	}
	env = append(env, "PATH="+path, "NOLIBTHREADDAEMONIZE=1")
	if o.Venti != "" {
		env = append(env, "venti="+o.Venti)
	}
	return append(env, o.Env...), nil
}

func find9pserve() string {
	if p := os.Getenv("PLAN9"); p != "" {
		f := filepath.Join(p, "bin", "9pserve")
		if _, err := os.Stat(f); err == nil {
			return f
		}
	}
	if f, err := exec.LookPath("9pserve"); err == nil {
		if abs, err := filepath.Abs(f); err == nil {
			return abs
		}
	}
	return ""
}

func writeExecutable(path, text string) error {
	if b, err := os.ReadFile(path); err == nil && string(b) == text {
		return nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0700); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// kill ends the fossil's process group (fossil and the 9pserve it may
// have started): SIGTERM, then SIGKILL if it is still there after 10 s.
func (p *Proc) kill(ctx context.Context) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	syscall.Kill(-p.Pid, syscall.SIGTERM)
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
	case <-ctx.Done():
	}
	syscall.Kill(-p.Pid, syscall.SIGKILL)
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("fossil %d does not die", p.Pid)
	}
}

// Attach opens the console of a fossil that is already running. Only
// Plan 9 has console files.
func Attach(ctx context.Context, console, partition string) (*Proc, error) {
	return nil, fmt.Errorf("console %s: fossil console files exist only on Plan 9; start fossil with fossilstart", console)
}
