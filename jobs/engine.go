// Package jobs runs replfs's commands as jobs: it keeps the
// configuration (source, targets), the targets' cursors and status, the
// root score log and the event log, and runs each control message that
// does work as a numbered job that can be watched and cancelled.
// Nothing here is a promised API.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"replfs/ctl"
	"replfs/rootscor"
	"replfs/venti/arena"
)

// A Source is the venti ventiprog copies from: its address, its arena
// partitions (read directly), and how to make it flush its arena
// directories to disk first.
type Source struct {
	Addr       string
	HTTP       string   // HTTP address for /flushdcache; "" if none
	Partitions []string // arena partitions, read directly
	// Flush, if set, flushes the source (the embedded venti's Sync);
	// otherwise /flushdcache on HTTP, else a Tsync to Addr.
	Flush func(ctx context.Context) error
}

// Options configure an Engine.
type Options struct {
	StateDir string
	// Embedded is the source when none is configured: replfs's own
	// venti. Nil means there is none.
	Embedded *Source
	// Fossils are the fossil programs fossilstart may run, given when
	// replfs starts (its -F, default $PLAN9/bin/fossil/fossil): the
	// first is the default, and ctl's fossil -p may only choose among
	// them, so no client names a program for replfs to run.
	Fossils []string
	Logf    func(format string, args ...any) // nil discards
	Now     func() time.Time                 // nil means time.Now
}

// maxFinished is how many finished jobs stay listed.
const maxFinished = 64

// An Engine runs replfs's commands. It is safe for concurrent use.
type Engine struct {
	opts   Options
	ctx    context.Context // lifetime: cancelled by Close
	stop   context.CancelCauseFunc
	wg     sync.WaitGroup // running jobs
	log    *eventLog
	scores *rootscor.Log

	mu       sync.Mutex // protects following
	source   *ctl.Source
	targets  map[string]*target
	adhoc    map[string]*target // dial strings given to one command
	jobs     []*job             // in order of id
	nextID   int
	parts    []*arena.Partition // the source's, opened for partsKey
	partsOf  string
	fossil   *ctl.Fossil         // the configured fossil, if any
	settings map[string]int      // trickle's controls (set)
	procs    map[string]*fosProc // fossils replfs started, by partition
	corrupt  []string            // corrupt source clumps found, for /status
	closed   bool

	fosSem chan struct{} // held by the running fossil job
}

// errShutdown is the cause jobs are cancelled with when replfs stops.
var errShutdown = errors.New("replfs shutting down")

// New returns an engine on the state directory, creating it (mode 0700)
// and reading its configuration and root score log.
func New(opts Options) (*Engine, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.Fossils = slices.Clone(opts.Fossils)
	for i, p := range opts.Fossils {
		opts.Fossils[i] = filepath.Clean(p)
	}
	if err := os.MkdirAll(filepath.Join(opts.StateDir, "targets"), 0700); err != nil {
		return nil, err
	}
	scores, err := rootscor.Open(filepath.Join(opts.StateDir, "rootscor"))
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancelCause(context.Background())
	e := &Engine{opts: opts, ctx: ctx, stop: stop, log: newEventLog(), scores: scores,
		targets: map[string]*target{}, adhoc: map[string]*target{}, nextID: 1,
		procs: map[string]*fosProc{}, fosSem: make(chan struct{}, 1), settings: map[string]int{}}
	for _, s := range ctl.Settings {
		e.settings[s.Name] = s.Value
	}
	b, err := os.ReadFile(e.configFile())
	if err != nil && !os.IsNotExist(err) {
		scores.Close()
		return nil, err
	}
	cmds, errs := ctl.ParseSaved(string(b))
	for _, err := range errs {
		e.logf("%s: %v; skipped", e.configFile(), err)
		e.event("%s: %v; skipped", e.configFile(), err)
	}
	for _, c := range cmds {
		e.applyConfig(c)
	}
	if e.fossil != nil {
		if err := e.checkProgram(e.fossil.Program); err != nil {
			e.logf("%s: %v; fossilstart refuses it", e.configFile(), err)
			e.event("%s: %v; fossilstart refuses it", e.configFile(), err)
		}
	}
	for _, t := range e.targets {
		e.loadCursor(t)
	}
	if err := e.loadJobs(); err != nil {
		scores.Close()
		return nil, err
	}
	e.event("replfs started")
	e.resumeTrickles()
	return e, nil
}

func (e *Engine) configFile() string { return filepath.Join(e.opts.StateDir, "config") }

func (e *Engine) logf(format string, args ...any) {
	if e.opts.Logf != nil {
		e.opts.Logf(format, args...)
	}
}

// event adds a line to /log.
func (e *Engine) event(format string, args ...any) {
	line := e.opts.Now().UTC().Format(time.RFC3339) + " " + oneLine(fmt.Sprintf(format, args...)) + "\n"
	e.log.add(line)
}

// Close cancels the running jobs, which stop at their last committed
// point, waits for them, and closes what the engine holds open.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	for _, j := range e.jobs {
		j.requestStop(errShutdown)
	}
	e.mu.Unlock()
	e.wg.Wait()
	e.stopFossils()
	e.stop(errShutdown)
	e.mu.Lock()
	for _, p := range e.parts {
		p.Close()
	}
	e.parts = nil
	e.mu.Unlock()
	return e.scores.Close()
}

// Exec runs the control messages in text, as one write to /ctl: all are
// parsed and checked first, so a write with a bad line changes nothing.
// Configuration changes are saved before Exec returns; commands that do
// work start jobs.
func (e *Engine) Exec(ctx context.Context, text string) error {
	_, err := e.ExecJobs(ctx, text)
	return err
}

// ExecJobs is Exec that returns the ids of the jobs it started.
func (e *Engine) ExecJobs(ctx context.Context, text string) ([]int, error) {
	cmds, err := ctl.ParseText(text)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, errShutdown
	}
	// Check every command against the state as the earlier ones leave it.
	names := map[string]bool{}
	for n := range e.targets {
		names[n] = true
	}
	config := false
	for _, c := range cmds {
		switch c := c.(type) {
		case ctl.Target:
			if c.Delete {
				if !names[c.Name] {
					return nil, fmt.Errorf("no target %s", c.Name)
				}
				delete(names, c.Name)
			} else {
				names[c.Name] = true
			}
			config = true
		case ctl.Source:
			config = true
		case ctl.Ventiprog:
			for _, t := range c.Targets {
				if ctl.CheckName(t) == nil && !names[t] {
					return nil, fmt.Errorf("no target %s", t)
				}
			}
		case ctl.Cancel:
			if e.findJob(c.Job) == nil {
				return nil, fmt.Errorf("no job %d", c.Job)
			}
		case ctl.Copy:
			for _, x := range []string{c.Src, c.Dst} {
				if x != ctl.Local && ctl.CheckName(x) == nil && !names[x] {
					return nil, fmt.Errorf("no target %s", x)
				}
			}
		case ctl.Verify:
			if c.Target != ctl.Local && ctl.CheckName(c.Target) == nil && !names[c.Target] {
				return nil, fmt.Errorf("no target %s", c.Target)
			}
		case ctl.Fossil:
			if c.Venti != "" && c.Venti != ctl.Local && ctl.CheckName(c.Venti) == nil && !names[c.Venti] {
				return nil, fmt.Errorf("no target %s", c.Venti)
			}
			if err := e.checkProgram(c.Program); err != nil {
				return nil, fmt.Errorf("fossil: %w", err)
			}
			config = true
		case ctl.Fosreset:
			if c.Venti != "" && c.Venti != ctl.Local && ctl.CheckName(c.Venti) == nil && !names[c.Venti] {
				return nil, fmt.Errorf("no target %s", c.Venti)
			}
		case ctl.Snap, ctl.Fossilize, ctl.Fossilstart, ctl.Foshalt, ctl.Cpsys:
		case ctl.Set:
			config = true
		case ctl.Trickle:
			for _, p := range c.Pairs {
				for _, x := range []string{p.Src, p.Dst} {
					if x != ctl.Local && ctl.CheckName(x) == nil && !names[x] {
						return nil, fmt.Errorf("no target %s", x)
					}
				}
			}
		default:
			return nil, fmt.Errorf("%s: not implemented", c.Verb())
		}
	}
	if config {
		old := e.configText()
		oldSource, oldTargets, oldFossil, oldSettings := e.source, cloneTargets(e.targets), e.fossil, maps.Clone(e.settings)
		for _, c := range cmds {
			e.applyConfig(c)
		}
		if text := e.configText(); text != old {
			if err := arena.WriteFileAtomic(e.configFile(), []byte(text)); err != nil {
				e.source, e.targets, e.fossil, e.settings = oldSource, oldTargets, oldFossil, oldSettings
				return nil, fmt.Errorf("save configuration: %w", err)
			}
		}
	}
	var ids []int
	start := func(cmd string, fn func(ctx context.Context, j *job) error) {
		ids = append(ids, e.startLocked(cmd, fn).id)
	}
	for _, c := range cmds {
		switch c := c.(type) {
		case ctl.Target, ctl.Source, ctl.Fossil:
			e.event("ctl %s", c)
		case ctl.Cancel:
			e.findJob(c.Job).requestStop(errCancelled)
			e.event("ctl %s", c)
		case ctl.Ventiprog:
			if c.Quick {
				start(c.String(), func(ctx context.Context, j *job) error { return e.quick(ctx, j, c) })
			} else {
				start(c.String(), func(ctx context.Context, j *job) error { return e.ventiprog(ctx, j, c) })
			}
		case ctl.Copy:
			start(c.String(), func(ctx context.Context, j *job) error { return e.copyTrees(ctx, j, c) })
		case ctl.Verify:
			start(c.String(), func(ctx context.Context, j *job) error { return e.verifyTrees(ctx, j, c) })
		case ctl.Snap:
			start(c.String(), func(ctx context.Context, j *job) error { return e.snap(ctx, j, c) })
		case ctl.Fossilize:
			start(c.String(), func(ctx context.Context, j *job) error { return e.fossilize(ctx, j, c) })
		case ctl.Fosreset:
			start(c.String(), func(ctx context.Context, j *job) error { return e.fosreset(ctx, j, c) })
		case ctl.Fossilstart:
			start(c.String(), func(ctx context.Context, j *job) error { return e.fossilstart(ctx, j, c) })
		case ctl.Foshalt:
			start(c.String(), func(ctx context.Context, j *job) error { return e.foshalt(ctx, j, c) })
		case ctl.Cpsys:
			start(c.String(), func(ctx context.Context, j *job) error { return e.cpsys(ctx, j, c) })
		case ctl.Trickle:
			for _, p := range c.Pairs {
				start(p.Line(), func(ctx context.Context, j *job) error { return e.trickle(ctx, j, p) })
			}
		case ctl.Set:
			e.event("ctl %s", c)
		}
	}
	return ids, nil
}

func cloneTargets(m map[string]*target) map[string]*target {
	c := make(map[string]*target, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// applyConfig applies a configuration command; e.mu is held (or the
// engine is not yet shared).
func (e *Engine) applyConfig(c ctl.Cmd) {
	switch c := c.(type) {
	case ctl.Target:
		if c.Delete {
			delete(e.targets, c.Name)
			return
		}
		if t, ok := e.targets[c.Name]; ok && t.addr == c.Addr {
			t.limit.setRate(c.Rate)
			return
		}
		t := newTarget(e.opts.StateDir, c.Name, c.Addr, false)
		t.limit.setRate(c.Rate)
		e.loadCursor(t)
		e.targets[c.Name] = t
	case ctl.Source:
		if c.Delete {
			e.source = nil
		} else {
			s := c
			e.source = &s
		}
	case ctl.Fossil:
		if c.Delete {
			e.fossil = nil
		} else {
			f := c
			e.fossil = &f
		}
	case ctl.Set:
		e.settings[c.Name] = c.Value
	}
}

// configText returns the configuration as control lines that recreate
// it: the source, then the targets by name.
func (e *Engine) configText() string {
	var b strings.Builder
	if e.source != nil {
		b.WriteString(e.source.String() + "\n")
	}
	if e.fossil != nil {
		b.WriteString(e.fossil.String() + "\n")
	}
	for _, n := range e.targetNames() {
		t := e.targets[n]
		b.WriteString(ctl.Target{Name: t.name, Addr: t.addr, Rate: t.limit.getRate()}.String() + "\n")
	}
	for _, s := range ctl.Settings {
		if v := e.settings[s.Name]; v != s.Value {
			b.WriteString(ctl.Set{Name: s.Name, Value: v}.String() + "\n")
		}
	}
	return b.String()
}

func (e *Engine) targetNames() []string {
	var names []string
	for n := range e.targets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// CtlText returns /ctl's contents: the configuration as control lines.
func (e *Engine) CtlText() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.configText()
}

// loadCursor reads a target's saved cursor into its status.
func (e *Engine) loadCursor(t *target) {
	cur, err := arena.LoadCursor(t.cursorFile())
	if err != nil {
		e.logf("target %s: %v", t.name, err)
		return
	}
	t.commit(cur)
}

// startLocked starts a job running fn; e.mu is held.
func (e *Engine) startLocked(cmd string, fn func(ctx context.Context, j *job) error) *job {
	ctx, cancel := context.WithCancelCause(e.ctx)
	j := &job{id: e.nextID, cmd: cmd, created: e.opts.Now(), cancel: cancel, stop: make(chan struct{}), state: Queued}
	e.nextID++
	e.jobs = append(e.jobs, j)
	e.trimJobs()
	e.saveJob(j) // so a job cut short by a crash is still listed
	e.event("job %d: %s", j.id, cmd)
	e.wg.Go(func() {
		j.setState(Running, e.opts.Now())
		err := fn(ctx, j)
		cancel(nil)
		// The log says how it ended before anyone can see it ended.
		switch {
		case err == nil:
			e.event("job %d done", j.id)
		case j.stopCause() != nil:
			e.event("job %d %s: %v", j.id, Cancelled, j.stopCause())
		default:
			e.event("job %d %s: %v", j.id, Failed, err)
		}
		j.finish(e.opts.Now(), err)
		e.saveJob(j)
	})
	return j
}

// trimJobs drops the oldest finished jobs past maxFinished, and their
// saved files; e.mu is held.
func (e *Engine) trimJobs() {
	n := 0
	for _, j := range e.jobs {
		if j.finished() {
			n++
		}
	}
	if n <= maxFinished {
		return
	}
	keep := e.jobs[:0]
	for _, j := range e.jobs {
		if n > maxFinished && j.finished() {
			n--
			p := filepath.Join(e.jobsDir(), strconv.Itoa(j.id))
			os.Remove(p)
			os.Remove(p + ".report")
			continue
		}
		keep = append(keep, j)
	}
	e.jobs = keep
}

func (e *Engine) findJob(id int) *job {
	for _, j := range e.jobs {
		if j.id == id {
			return j
		}
	}
	return nil
}

// Jobs returns the ids of the listed jobs, in order.
func (e *Engine) Jobs() []int {
	e.mu.Lock()
	defer e.mu.Unlock()
	ids := make([]int, len(e.jobs))
	for i, j := range e.jobs {
		ids[i] = j.id
	}
	return ids
}

// JobStatus returns a job's status file.
func (e *Engine) JobStatus(id int) (string, bool) {
	e.mu.Lock()
	j := e.findJob(id)
	e.mu.Unlock()
	if j == nil {
		return "", false
	}
	return j.status(), true
}

// JobReport returns a job's report (empty for jobs without one).
func (e *Engine) JobReport(id int) (string, bool) {
	e.mu.Lock()
	j := e.findJob(id)
	e.mu.Unlock()
	if j == nil {
		return "", false
	}
	return j.reportText(), true
}

// JobCtl runs a write to /jobs/N/ctl: "cancel".
func (e *Engine) JobCtl(id int, text string) error {
	e.mu.Lock()
	j := e.findJob(id)
	e.mu.Unlock()
	if j == nil {
		return fmt.Errorf("no job %d", id)
	}
	switch strings.TrimSpace(text) {
	case "cancel":
		j.requestStop(errCancelled)
		e.event("job %d: cancel", id)
		return nil
	case "":
		return errors.New("empty control message")
	}
	f := strings.Fields(text)
	return fmt.Errorf("unknown control message %q", f[0])
}

// WaitJob waits until a job has finished or ctx is done, and returns its
// state. It is for tests and the client command.
func (e *Engine) WaitJob(ctx context.Context, id int) (string, error) {
	for {
		e.mu.Lock()
		j := e.findJob(id)
		e.mu.Unlock()
		if j == nil {
			return "", fmt.Errorf("no job %d", id)
		}
		if j.finished() {
			j.mu.Lock()
			defer j.mu.Unlock()
			return j.state, nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// LastJob returns the id of the newest job, 0 if none.
func (e *Engine) LastJob() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.nextID - 1
}

// LogRead reads /log from position pos: see eventLog.read.
func (e *Engine) LogRead(ctx context.Context, pos int64, max int) ([]byte, int64, error) {
	return e.log.read(ctx, pos, max)
}

// RootScor returns the root score log's text.
func (e *Engine) RootScor() []byte { return e.scores.Bytes() }
