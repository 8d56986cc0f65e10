package fossil

import (
	"context"

	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// FindProgram returns the fossil binary: /bin/fossil/fossil.
func FindProgram() (string, error) { return DefaultProgram(os.Getenv), nil }

// DefaultProgram returns the fossil binary replfs runs unless told
// otherwise: /bin/fossil/fossil.
func DefaultProgram(getenv func(string) string) string { return "/bin/fossil/fossil" }

const havePty = false

type ptyMaster struct{ *os.File }

// Start starts fossil as fossilstart did, posting its console as
// /srv/fscons.NAME (fscons without a name), and opens that console.
// Fossil goes on running after its first process returns.
func Start(ctx context.Context, o StartOptions) (*Proc, error) {
	prog := o.Program
	if prog == "" {
		prog, _ = FindProgram()
	}
	cons := "fscons"
	if o.Name != "" {
		cons += "." + o.Name
	}
	if _, err := os.Stat("/srv/" + cons); err == nil {
		return nil, fmt.Errorf("/srv/%s exists: a fossil already runs with that name", cons)
	}
	var args []string
	if o.UseConfig {
		args = append(args, "-f", o.Partition)
	}
	args = append(args, "-c", "srv -p "+cons)
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Env = append(os.Environ(), o.Env...)
	if o.Venti != "" {
		cmd.Env = append(cmd.Env, "venti="+o.Venti)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("start %s: %v: %s", prog, err, strings.TrimSpace(string(out)))
	}
	return Attach(ctx, "/srv/"+cons, o.Partition)
}

// Attach opens the posted console of a running fossil serving
// partition.
func Attach(ctx context.Context, console, partition string) (*Proc, error) {
	f, err := os.OpenFile(console, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	c, err := NewConsole(ctx, f, true)
	if err != nil {
		return nil, err
	}
	p := &Proc{Console: c, Partition: partition, done: make(chan struct{})}
	go func() {
		<-c.readerDone
		p.mu.Lock()
		p.waitErr = c.Err()
		p.mu.Unlock()
		close(p.done)
	}()
	p.stop = func(ctx context.Context) error { return killHolders(ctx, partition) }
	return p, nil
}

// killHolders kills the fossil processes that have partition open, and
// no others.
func killHolders(ctx context.Context, partition string) error {
	for try := 0; try < 20; try++ {
		pids, err := Holders(partition)
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		for _, pid := range pids {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			if f := strings.Fields(string(b)); len(f) == 0 || f[0] != "fossil" {
				return fmt.Errorf("%s is held by process %d, not a fossil", partition, pid)
			}
			os.WriteFile(fmt.Sprintf("/proc/%d/ctl", pid), []byte("kill"), 0)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return fmt.Errorf("fossil on %s does not die", partition)
}

// Holders returns the processes that have path open, from /proc/N/fd.
func Holders(path string) ([]int, error) {
	path = filepath.Clean(path)
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/fd")
		if err != nil {
			continue
		}
		lines := strings.Split(string(b), "\n")
		for _, l := range lines[min(1, len(lines)):] { // the first line is the directory
			f := strings.Fields(l)
			if len(f) > 0 && f[len(f)-1] == path {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids, nil
}
