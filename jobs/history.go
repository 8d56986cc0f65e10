package jobs

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"replfs/venti/arena"
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
		err = arena.WriteFileAtomic(filepath.Join(dir, name+".report"), []byte(j.reportText()))
	}
	if err == nil {
		err = arena.WriteFileAtomic(filepath.Join(dir, name), []byte(j.status()))
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
			st = []byte("state failed\n" + rest + "error replfs stopped before the job ended\n")
			arena.WriteFileAtomic(path, st)
		}
		e.jobs = append(e.jobs, &job{id: id, state: state, saved: true, savedStatus: string(st), savedReport: string(rep),
			cancel: func(error) {}, stop: make(chan struct{})})
	}
	if len(ids) > 0 {
		e.nextID = ids[len(ids)-1] + 1
	}
	return nil
}
