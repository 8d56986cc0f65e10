package jobs

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"replfs/ctl"
)

// Job states, as a job's status file begins: "state S".
const (
	Queued    = "queued"
	Running   = "running"
	Waiting   = "waiting"  // for its window to open
	Retrying  = "retrying" // after a failure, at next
	Sleeping  = "sleeping" // until its next repeat
	Done      = "done"
	Failed    = "failed"
	Cancelled = "cancelled"
)

// errCancelled is the cause a job is cancelled with by cancel or
// /jobs/N/ctl.
var errCancelled = fmt.Errorf("cancelled")

// A job is one command run by the engine, or one that ran before
// replfs last started: then only its record.
type job struct {
	// immutable after newJob
	id     int
	cancel context.CancelCauseFunc
	stop   chan struct{} // closed to ask the job to stop at a committed point
	once   sync.Once     // for stop
	done   chan struct{} // closed when it has ended and its record is saved

	saveMu sync.Mutex // held while its record is written: the newest is written last

	mu      sync.Mutex // protects following
	rec     record     // what it is, as saved and shown
	why     error      // why stop was closed
	unsaved error      // the last save's failure; nil once a save succeeds
}

// newJob returns a job of command c, queued.
func newJob(id int, c ctl.Cmd, now time.Time, cancel context.CancelCauseFunc) *job {
	j := &job{id: id, cancel: cancel, stop: make(chan struct{}), done: make(chan struct{}),
		rec: record{ID: id, State: Queued, Created: now}}
	j.rec.setCommand(c)
	return j
}

// oldJob returns a job that ran before replfs started, from its record.
func oldJob(r record) *job {
	j := &job{id: r.ID, cancel: func(error) {}, stop: make(chan struct{}), done: make(chan struct{}), rec: r}
	close(j.done)
	return j
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
	j.rec.State = s
	if s == Running && j.rec.Started.IsZero() {
		j.rec.Started = now
	}
}

// finish records how the job ended. A job that stopped because it was
// asked to (cancel, shutdown) is cancelled, with that reason.
func (j *job) finish(now time.Time, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	r := &j.rec
	r.Ended = now
	r.Next = time.Time{}
	r.Rate = 0
	if d := now.Sub(r.Started).Seconds(); !r.Started.IsZero() && d > 0 {
		r.Rate = int64(float64(r.Bytes) / d)
	}
	switch {
	case err == nil:
		r.State = Done
	case j.why != nil:
		r.State = Cancelled
		r.Err = oneLine(j.why.Error())
		r.Stop = stopCancel
		if j.why == errShutdown {
			r.Stop = stopShutdown
		}
	default:
		r.State = Failed
		r.Err = oneLine(err.Error())
	}
}

func (j *job) addResult(line string) {
	j.mu.Lock()
	j.rec.Results = append(j.rec.Results, flat(line))
	j.mu.Unlock()
}

// addWarning adds a result line that is a warning: the job may still
// be done, but someone must look.
func (j *job) addWarning(line string) {
	j.mu.Lock()
	j.rec.Results = append(j.rec.Results, flat(line))
	j.rec.Warnings++
	j.mu.Unlock()
}

func (j *job) addInfo(line string) {
	j.mu.Lock()
	j.rec.Info = append(j.rec.Info, flat(line))
	j.mu.Unlock()
}

// setWaiting sets a trickle job's state (running, or one of the words
// for waiting), the words that say more, and when it next runs.
func (j *job) setWaiting(state, detail string, next time.Time) {
	j.mu.Lock()
	j.rec.State, j.rec.Detail, j.rec.Next = state, detail, next
	j.mu.Unlock()
}

func (j *job) setWindow(w string) {
	j.mu.Lock()
	j.rec.Window = w
	j.mu.Unlock()
}

func (j *job) setLastError(err error) {
	j.mu.Lock()
	j.rec.LastErr = ""
	if err != nil {
		j.rec.LastErr = oneLine(err.Error())
	}
	j.mu.Unlock()
}

// newRun starts a run: its results replace the last run's.
func (j *job) newRun(t time.Time) {
	j.mu.Lock()
	j.rec.Runs++
	j.rec.LastRun = t
	j.rec.Results, j.rec.Report, j.rec.Info, j.rec.Phase = nil, nil, nil, ""
	j.mu.Unlock()
}

func (j *job) runCount() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.rec.Runs
}

func (j *job) runStart() time.Time {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.rec.LastRun
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
	j.rec.Phase = flat(fmt.Sprintf(format, args...))
	j.mu.Unlock()
}

func (j *job) addReport(line string) {
	j.mu.Lock()
	j.rec.Report = append(j.rec.Report, flat(line))
	j.mu.Unlock()
}

func (j *job) addBlocks(blocks, bytes int64) {
	j.mu.Lock()
	j.rec.Blocks += blocks
	j.rec.Bytes += bytes
	j.mu.Unlock()
}

func (j *job) addProgress(clumps, bytes int64) {
	j.mu.Lock()
	j.rec.Clumps += clumps
	j.rec.Bytes += bytes
	j.mu.Unlock()
}

// isSaved reports whether the job's record is saved as it last was.
func (j *job) isSaved() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.unsaved == nil
}

func (j *job) finished() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.rec.finished()
}

// record returns a copy of the job's record.
func (j *job) record() record {
	j.mu.Lock()
	defer j.mu.Unlock()
	r := j.rec
	r.Args = slices.Clone(r.Args)
	r.Info = slices.Clone(r.Info)
	r.Results = slices.Clone(r.Results)
	r.Report = slices.Clone(r.Report)
	return r
}

// status renders the job's status file: its record, and whether it is
// saved.
func (j *job) status() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	s := j.rec.render(time.Now())
	if j.unsaved != nil {
		s += "unsaved " + oneLine(j.unsaved.Error()) + "\n"
	}
	return s
}

func (j *job) reportText() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.rec.reportText()
}

// flat puts s on one line: a status or report line cannot hold a
// newline.
func flat(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
}
