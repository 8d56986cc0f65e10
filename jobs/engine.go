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
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"replfs/ctl"
	"replfs/peer"
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
	// SampleEvery is how often each target's lag is sampled for its
	// history; 0 means SampleEvery, negative never (tests sample by
	// hand with SampleLag).
	SampleEvery time.Duration
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
	// Peers authenticates cpsys's tls! connections to other replfs
	// servers; nil refuses tls! addresses.
	Peers *peer.Config

	// What the engine knows of the system it runs on; cmd/replfs finds
	// it. Sysname is the name recorded with root scores when the
	// fossil's configuration gives none ("" means "fossil"); User, the
	// user cpsys attaches to other replfs servers as ("" means "none");
	// Consoles, whether a configured fossil console file can be opened
	// (Plan 9, where fossil posts it in /srv).
	Sysname  string
	User     string
	Consoles bool

	// Pause, for crash tests, is called at named points of a job and
	// may block there: "rootscor NAME" is just before the root score
	// log is written to target or venti NAME, its data synced. Nil:
	// none.
	Pause func(point string)

	// hook, for tests, is called before each write to the state
	// directory; it may block, and an error it returns fails the write.
	hook func(path string) error
}

// maxFinished is how many finished jobs stay listed.
const maxFinished = 64

// An Engine runs replfs's commands. It is safe for concurrent use.
//
// Lock order: cfgMu, then mu, then a job's or a target's own. No
// engine lock is held across disk or network I/O, but cfgMu, which
// orders configuration changes and is held while one is saved: a slow
// disk delays other ctl writes, never a read.
type Engine struct {
	opts   Options
	ctx    context.Context // lifetime: cancelled by Close
	stop   context.CancelCauseFunc
	wg     sync.WaitGroup // running jobs
	log    *eventLog
	scores *rootscor.Log
	fosSem chan struct{} // held by the running fossil job

	cfgMu sync.Mutex // held by a ctl write from its checks until its jobs are saved

	hmu     sync.Mutex // protects hist
	hist    map[string]*lagHistory
	sampled chan struct{} // closed when the sampler has returned

	pmu     sync.Mutex         // protects following
	parts   []*arena.Partition // the source's, opened for partsOf
	partsOf string

	mu      sync.Mutex         // protects following
	cfg     config             // in force: replaced whole, never changed
	targets map[string]*target // cfg's targets, kept in line with it
	adhoc   map[string]*target // dial strings given to one command
	jobs    []*job             // in order of id
	nextID  int
	procs   map[string]*fosProc // fossils replfs started, by partition
	corrupt []string            // corrupt source clumps found, for /status
	closed  bool
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
	e := &Engine{opts: opts, ctx: ctx, stop: stop, log: openEventLog(filepath.Join(opts.StateDir, "log")), scores: scores,
		cfg: newConfig(), targets: map[string]*target{}, adhoc: map[string]*target{}, nextID: 1,
		procs: map[string]*fosProc{}, fosSem: make(chan struct{}, 1)}
	b, err := os.ReadFile(e.configFile())
	if err != nil && !os.IsNotExist(err) {
		scores.Close()
		return nil, err
	}
	cfg, errs := parseSaved(string(b))
	for _, err := range errs {
		e.logf("%s: %v; skipped", e.configFile(), err)
		e.event("%s: %v; skipped", e.configFile(), err)
	}
	if cfg.fossil != nil {
		if err := e.checkProgram(cfg.fossil.Program); err != nil {
			e.logf("%s: %v; fossilstart refuses it", e.configFile(), err)
			e.event("%s: %v; fossilstart refuses it", e.configFile(), err)
		}
	}
	fresh := e.newTargets(cfg)
	e.mu.Lock()
	e.swapLocked(cfg, fresh)
	e.mu.Unlock()
	if err := e.loadJobs(); err != nil {
		scores.Close()
		return nil, err
	}
	e.event("replfs started")
	e.resumeTrickles()
	e.sampled = make(chan struct{})
	go func() { e.sampler(); close(e.sampled) }()

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
	e.saveUnsaved()
	e.stopFossils()
	e.stop(errShutdown)
	<-e.sampled
	e.saveHistories()
	e.pmu.Lock()
	for _, p := range e.parts {
		p.Close()
	}
	e.parts = nil
	e.pmu.Unlock()
	e.log.close()
	return e.scores.Close()
}

// targetNames returns the configured targets' names, sorted; e.mu is
// held.
func (e *Engine) targetNames() []string { return e.cfg.targetNames() }

// CtlText returns /ctl's contents: the configuration as control lines.
func (e *Engine) CtlText() string {
	e.mu.Lock()
	cfg := e.cfg
	e.mu.Unlock()
	return cfg.text()
}

// loadCursor reads a target's saved cursor into its status.
func (e *Engine) loadCursor(t *target) {
	if !t.adhoc {
		t.load()
	}
	cur, err := arena.LoadCursor(t.cursorFile())
	if err != nil {
		e.logf("target %s: %v", t.name, err)
		return
	}
	t.commit(cur)
}

// runFunc runs one job of a verb.
type runFunc func(e *Engine, ctx context.Context, j *job, c ctl.Cmd) error

// A start is a job listed and not yet running.
type start struct {
	j   *job
	ctx context.Context // the job's: cancelled by j.cancel
	cmd ctl.Cmd
	run runFunc
}

// newJobLocked lists a job of command c, queued; e.mu is held. It
// returns the job to launch and the saved files of the finished jobs
// it drops from the list, for the caller to remove.
func (e *Engine) newJobLocked(c ctl.Cmd, run runFunc) (start, []string) {
	ctx, cancel := context.WithCancelCause(e.ctx)
	j := newJob(e.nextID, c, e.opts.Now(), cancel)
	e.nextID++
	e.jobs = append(e.jobs, j)
	e.wg.Add(1) // under e.mu, so a Close waits for it
	e.event("job %d: %s", j.id, j.rec.line())
	return start{j, ctx, c, run}, e.trimJobs()
}

// launch runs a listed job. Its record is saved as it ends.
func (e *Engine) launch(s start) {
	j := s.j
	go func() {
		defer e.wg.Done()
		defer close(j.done)
		j.setState(Running, e.opts.Now())
		err := s.run(e, s.ctx, j, s.cmd)
		j.cancel(nil)
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
		e.save(j)
	}()
}

// trimJobs drops the oldest finished jobs past maxFinished and returns
// their saved files; e.mu is held. A job whose record is not saved
// stays listed: it is all there is of it.
func (e *Engine) trimJobs() []string {
	n := 0
	for _, j := range e.jobs {
		if j.finished() {
			n++
		}
	}
	if n <= maxFinished {
		return nil
	}
	var gone []string
	keep := e.jobs[:0]
	for _, j := range e.jobs {
		if n > maxFinished && j.finished() && j.isSaved() {
			n--
			gone = append(gone, e.jobFile(j.id))
			continue
		}
		keep = append(keep, j)
	}
	e.jobs = keep
	return gone
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

// WaitJob waits until a job has finished, its record saved, or ctx is
// done, and returns its state. It is for tests and the client command.
func (e *Engine) WaitJob(ctx context.Context, id int) (string, error) {
	e.mu.Lock()
	j := e.findJob(id)
	e.mu.Unlock()
	if j == nil {
		return "", fmt.Errorf("no job %d", id)
	}
	select {
	case <-j.done:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.rec.State, nil
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
