package jobs

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Job states, as a job's status file begins: "state S".
const (
	Queued    = "queued"
	Running   = "running"
	Waiting   = "waiting"
	Done      = "done"
	Failed    = "failed"
	Cancelled = "cancelled"
)

// errCancelled is the cause a job is cancelled with by cancel or
// /jobs/N/ctl.
var errCancelled = fmt.Errorf("cancelled")

// A job is one command run by the engine.
type job struct {
	// immutable after newJob
	id      int
	cmd     string
	created time.Time
	cancel  context.CancelCauseFunc
	stop    chan struct{} // closed to ask the job to stop at a committed point
	once    sync.Once     // for stop

	mu       sync.Mutex // protects following
	state    string
	started  time.Time
	ended    time.Time
	clumps   int64
	bytes    int64
	blocks   int64    // copy, verify: tree blocks done
	info     []string // "key value" lines a job adds (verify: its probe)
	phase    string   // what the job is doing now
	window   string   // trickle: the window it keeps to
	next     time.Time
	runs     int       // trickle: runs started
	lastRun  time.Time // and when the last began
	lastErr  string    // trickle: the last run's error, being retried
	results  []string  // one line per target or root
	warnings int       // results that are warnings (corrupt source clumps)
	report   []string  // the full report (verify)
	err      error
	why      error // why stop was closed

	// A job finished before replfs last started is only its saved
	// status and report.
	saved       bool
	savedStatus string
	savedReport string
}

// graceTime is how long a job asked to stop may take before it is
// cancelled outright.
const graceTime = 30 * time.Second

// requestStop asks the job to stop cleanly, with cause; if it has not
// finished within graceTime, its context is cancelled.
func (j *job) requestStop(cause error) {
	j.once.Do(func() {
		j.mu.Lock()
		j.why = cause
		j.mu.Unlock()
		close(j.stop)
		time.AfterFunc(graceTime, func() { j.cancel(cause) })
	})
}

func (j *job) stopCause() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.why
}

func (j *job) setState(s string, now time.Time) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.state = s
	if s == Running && j.started.IsZero() {
		j.started = now
	}
}

// finish records how the job ended. A job that stopped because it was
// asked to (cancel, shutdown) is cancelled, with that reason.
func (j *job) finish(now time.Time, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.ended = now
	j.next = time.Time{}
	switch {
	case err == nil:
		j.state = Done
	case j.why != nil:
		j.state = Cancelled
		j.err = j.why
	default:
		j.state = Failed
		j.err = err
	}
}

func (j *job) addResult(line string) {
	j.mu.Lock()
	j.results = append(j.results, line)
	j.mu.Unlock()
}

// addWarning adds a result line that is a warning: the job may still
// be done, but someone must look.
func (j *job) addWarning(line string) {
	j.mu.Lock()
	j.results = append(j.results, line)
	j.warnings++
	j.mu.Unlock()
}

func (j *job) addInfo(line string) {
	j.mu.Lock()
	j.info = append(j.info, line)
	j.mu.Unlock()
}

// setWaiting sets a trickle job's state (running, or what it waits
// for) and when it next runs.
func (j *job) setWaiting(state string, next time.Time) {
	j.mu.Lock()
	j.state, j.next = state, next
	j.mu.Unlock()
}

func (j *job) setWindow(w string) {
	j.mu.Lock()
	j.window = w
	j.mu.Unlock()
}

func (j *job) setLastError(err error) {
	j.mu.Lock()
	j.lastErr = ""
	if err != nil {
		j.lastErr = oneLine(err.Error())
	}
	j.mu.Unlock()
}

// newRun starts a run: its results replace the last run's.
func (j *job) newRun(t time.Time) {
	j.mu.Lock()
	j.runs++
	j.lastRun = t
	j.results, j.report, j.info, j.phase = nil, nil, nil, ""
	j.mu.Unlock()
}

func (j *job) runCount() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.runs
}

func (j *job) runStart() time.Time {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.lastRun
}

// stopped is what a job asked to stop returns.
func (j *job) stopped(ctx context.Context) error {
	if err := j.stopCause(); err != nil {
		return err
	}
	return context.Cause(ctx)
}

func (j *job) setPhase(format string, args ...any) {
	j.mu.Lock()
	j.phase = fmt.Sprintf(format, args...)
	j.mu.Unlock()
}

func (j *job) addReport(line string) {
	j.mu.Lock()
	j.report = append(j.report, line)
	j.mu.Unlock()
}

func (j *job) addBlocks(blocks, bytes int64) {
	j.mu.Lock()
	j.blocks += blocks
	j.bytes += bytes
	j.mu.Unlock()
}

func (j *job) addProgress(clumps, bytes int64) {
	j.mu.Lock()
	j.clumps += clumps
	j.bytes += bytes
	j.mu.Unlock()
}

func (j *job) finished() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.state == Done || j.state == Failed || j.state == Cancelled
}

// status renders the job's status file.
func (j *job) status() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.saved {
		return j.savedStatus
	}
	var b strings.Builder
	kv := func(k string, v any) { fmt.Fprintf(&b, "%s %v\n", k, v) }
	kv("state", j.state)
	kv("cmd", j.cmd)
	kv("created", stamp(j.created))
	kv("started", stamp(j.started))
	kv("ended", stamp(j.ended))
	kv("clumps", j.clumps)
	kv("bytes", j.bytes)
	kv("blocks", j.blocks)
	rate := int64(0)
	if !j.started.IsZero() {
		end := j.ended
		if end.IsZero() {
			end = time.Now()
		}
		if d := end.Sub(j.started).Seconds(); d > 0 {
			rate = int64(float64(j.bytes) / d)
		}
	}
	kv("rate", rate)
	if j.phase != "" && !(j.state == Done || j.state == Failed || j.state == Cancelled) {
		kv("phase", j.phase)
	}
	if j.window != "" {
		kv("window", j.window)
	}
	if !j.next.IsZero() {
		kv("next", stamp(j.next))
	}
	if j.runs > 0 {
		kv("runs", j.runs)
		kv("lastrun", stamp(j.lastRun))
	}
	if j.lastErr != "" {
		kv("lasterror", j.lastErr)
	}
	if j.warnings > 0 {
		kv("warnings", j.warnings)
	}
	for _, l := range j.info {
		b.WriteString(l + "\n")
	}
	for _, r := range j.results {
		kv("result", r)
	}
	if j.err != nil {
		kv("error", oneLine(j.err.Error()))
	}
	return b.String()
}

func (j *job) reportText() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.saved {
		return j.savedReport
	}
	if len(j.report) == 0 {
		return ""
	}
	return strings.Join(j.report, "\n") + "\n"
}
