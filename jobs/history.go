package jobs

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Finished jobs are kept in statedir/jobs/N (the status) and N.report,
// so the history and the numbering survive a restart.

func (e *Engine) jobsDir() string { return filepath.Join(e.opts.StateDir, "jobs") }

// saveJob writes a finished job's status and report.
func (e *Engine) saveJob(j *job) {
	dir := e.jobsDir()
	name := strconv.Itoa(j.id)
	err := os.MkdirAll(dir, 0700)
	if err == nil {
		err = e.writeFile(filepath.Join(dir, name+".report"), []byte(j.reportText()))
	}
	if err == nil {
		err = e.writeFile(filepath.Join(dir, name), []byte(j.status()))
	}
	if err != nil {
		e.logf("save job %d: %v", j.id, err)
	}
}

// loadJobs reads the saved jobs, keeping the newest maxFinished, and
// sets the next job number after the highest.
func (e *Engine) loadJobs() error {
	ents, err := os.ReadDir(e.jobsDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var ids []int
	for _, d := range ents {
		if id, err := strconv.Atoi(d.Name()); err == nil && id > 0 {
			ids = append(ids, id)
		}
	}
	sort.Ints(ids)
	for i, id := range ids {
		path := filepath.Join(e.jobsDir(), strconv.Itoa(id))
		if i < len(ids)-maxFinished {
			os.Remove(path)
			os.Remove(path + ".report")
			continue
		}
		st, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rep, _ := os.ReadFile(path + ".report")
		state := strings.TrimPrefix(strings.SplitN(string(st), "\n", 2)[0], "state ")
		if state != Done && state != Failed && state != Cancelled {
			// It was running when replfs stopped without ending it.
			state = Failed
			rest := strings.SplitN(string(st), "\n", 2)[1]
			st = []byte("state failed\n" + rest + "error " + errStoppedBeforeEnd + "\n")
			e.writeFile(path, st)
		}
		done := make(chan struct{})
		close(done)
		e.jobs = append(e.jobs, &job{id: id, state: state, saved: true, savedStatus: string(st), savedReport: string(rep),
			cancel: func(error) {}, stop: make(chan struct{}), done: done})
	}
	if len(ids) > 0 {
		e.nextID = ids[len(ids)-1] + 1
	}
	return nil
}

// resumeTrickles starts again the repeating trickle jobs that replfs's
// stopping ended (cleanly or not): a trickle -R runs until cancelled,
// and a restart is not a cancel. The old job's saved status says which
// job carries it on, so it is resumed once.
func (e *Engine) resumeTrickles() {
	e.mu.Lock()
	var old []*job
	for _, j := range e.jobs {
		if j.saved && resumable(j.savedStatus) {
			old = append(old, j)
		}
	}
	e.mu.Unlock()
	for _, j := range old {
		cmd := statusValue(j.savedStatus, "cmd")
		ids, err := e.ExecJobs(e.ctx, cmd)
		if err != nil || len(ids) != 1 {
			e.event("job %d: cannot resume %q: %v", j.id, cmd, err)
			continue
		}
		st := j.savedStatus + "resumed job " + strconv.Itoa(ids[0]) + "\n"
		e.mu.Lock()
		j.savedStatus = st
		e.mu.Unlock()
		e.writeFile(filepath.Join(e.jobsDir(), strconv.Itoa(j.id)), []byte(st))
		e.event("job %d resumes job %d: %s", ids[0], j.id, cmd)
	}
}

// resumable: a repeating trickle ended by replfs stopping, not resumed yet.
func resumable(status string) bool {
	cmd := statusValue(status, "cmd")
	if !strings.HasPrefix(cmd, "trickle ") || statusValue(status, "resumed") != "" {
		return false
	}
	repeat := false
	for _, f := range strings.Fields(cmd)[1:] {
		if len(f) > 1 && f[0] == '-' && strings.Contains(f, "R") {
			repeat = true
		}
	}
	why := statusValue(status, "error")
	return repeat && (why == errShutdown.Error() || why == errStoppedBeforeEnd)
}

const errStoppedBeforeEnd = "replfs stopped before the job ended"

// statusValue returns the value of the first "key value" line.
func statusValue(status, key string) string {
	for _, l := range strings.Split(status, "\n") {
		if k, v, _ := strings.Cut(l, " "); k == key {
			return v
		}
	}
	return ""
}
