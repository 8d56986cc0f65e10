package jobs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"replfs/ctl"
)

// Job records (record.go) are kept in statedir/jobs/N, so the history
// and the numbering survive a restart.

func (e *Engine) jobsDir() string { return filepath.Join(e.opts.StateDir, "jobs") }

func (e *Engine) jobFile(id int) string { return filepath.Join(e.jobsDir(), strconv.Itoa(id)) }

// save writes the job's record and, if that worked, the records whose
// last save failed.
func (e *Engine) save(j *job) {
	if e.saveJob(j) {
		e.saveUnsaved()
	}
}

// saveJob writes the job's record and reports whether it is saved. A
// failure is shown, in the job's status and /status, until a later
// save succeeds; meanwhile the job stays listed.
func (e *Engine) saveJob(j *job) bool {
	j.saveMu.Lock()
	defer j.saveMu.Unlock()
	b, err := packRecord(j.record())
	if err == nil {
		err = os.MkdirAll(e.jobsDir(), 0700)
	}
	if err == nil {
		err = e.writeFile(e.jobFile(j.id), b)
	}
	j.mu.Lock()
	was := j.unsaved
	j.unsaved = err
	j.mu.Unlock()
	switch {
	case err != nil:
		e.logf("save job %d: %v", j.id, err)
		e.event("job %d: not saved: %v", j.id, err)
	case was != nil:
		e.event("job %d: saved", j.id)
	}
	return err == nil
}

// saveUnsaved tries again to save the records whose last save failed,
// stopping at the first that fails again.
func (e *Engine) saveUnsaved() {
	e.mu.Lock()
	var js []*job
	for _, j := range e.jobs {
		j.mu.Lock()
		if j.unsaved != nil {
			js = append(js, j)
		}
		j.mu.Unlock()
	}
	e.mu.Unlock()
	for _, j := range js {
		if !e.saveJob(j) {
			return
		}
	}
}

// loadJobs reads the saved jobs, keeping the newest maxFinished, and
// sets the next job number after the highest. A record that cannot be
// read is reported in /log and skipped; its number is not used again.
// A job found unfinished was cut short: it is failed. Records of
// version 0 are converted, and their report files removed.
func (e *Engine) loadJobs() error {
	ents, err := os.ReadDir(e.jobsDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var ids []int
	var reports []int // version 0 report files
	for _, d := range ents {
		name, rep := strings.CutSuffix(d.Name(), ".report")
		if id, err := strconv.Atoi(name); err == nil && id > 0 && strconv.Itoa(id) == name {
			if rep {
				reports = append(reports, id)
			} else {
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	if len(ids) > 0 {
		e.nextID = ids[len(ids)-1] + 1
	}
	keep := map[int]bool{} // report files still needed
	var rewrite []*job
	for i, id := range ids {
		if i < len(ids)-maxFinished {
			os.Remove(e.jobFile(id))
			continue
		}
		r, v0, err := e.readRecord(id)
		if err != nil {
			e.logf("job %d: %v", id, err)
			e.event("job %d: unreadable record, skipped: %v", id, err)
			keep[id] = true // left as it is, for a person
			continue
		}
		j := oldJob(r)
		if !r.finished() {
			j.rec.lost()
			v0 = true
		}
		if v0 {
			rewrite = append(rewrite, j)
		}
		e.jobs = append(e.jobs, j)
	}
	for _, j := range rewrite {
		if !e.saveJob(j) {
			keep[j.id] = true
		}
	}
	for _, id := range reports {
		if !keep[id] {
			os.Remove(e.jobFile(id) + ".report")
		}
	}
	return nil
}

// readRecord reads job id's record, and whether it is of version 0.
func (e *Engine) readRecord(id int) (record, bool, error) {
	f, err := os.Open(e.jobFile(id))
	if err != nil {
		return record{}, false, err
	}
	b, err := io.ReadAll(io.LimitReader(f, maxRecord+1))
	f.Close()
	if err != nil {
		return record{}, false, err
	}
	if len(b) > maxRecord {
		return record{}, false, fmt.Errorf("record larger than %d bytes", maxRecord)
	}
	var rep []byte
	v0 := !strings.HasPrefix(strings.TrimSpace(string(b)), "{")
	if v0 {
		rep, err = readLimited(e.jobFile(id)+".report", maxRecord)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return record{}, false, err
		}
	}
	r, err := unpackRecord(id, b, rep)
	return r, v0, err
}

// readLimited reads a file of at most max bytes.
func readLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err == nil && int64(len(b)) > max {
		err = fmt.Errorf("%s: larger than %d bytes", path, max)
	}
	return b, err
}

// resumeTrickles starts again the jobs that run until cancelled
// (trickle -R) that replfs's stopping ended, cleanly or not: a restart
// is not a cancel. The old job's record says which job carries it on,
// so it is resumed once.
func (e *Engine) resumeTrickles() {
	e.mu.Lock()
	var old []*job
	for _, j := range e.jobs {
		j.mu.Lock()
		r := &j.rec
		if r.Resumed == 0 && (r.Stop == stopShutdown || r.Stop == stopLost) && verbs[r.Verb].repeats != nil {
			old = append(old, j)
		}
		j.mu.Unlock()
	}
	e.mu.Unlock()
	for _, j := range old {
		r := j.record()
		c, err := r.command()
		if err != nil {
			e.event("job %d: cannot resume %q: %v", j.id, r.line(), err)
			continue
		}
		if !verbs[r.Verb].repeats(c) {
			continue
		}
		ids, err := e.exec([]ctl.Cmd{c})
		if err != nil || len(ids) != 1 {
			e.event("job %d: cannot resume %q: %v", j.id, r.line(), err)
			continue
		}
		j.mu.Lock()
		j.rec.Resumed = ids[0]
		j.mu.Unlock()
		e.save(j)
		e.event("job %d resumes job %d: %s", ids[0], j.id, r.line())
	}
}
