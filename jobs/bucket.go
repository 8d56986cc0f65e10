package jobs

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	"replfs/venti/arena"
	"replfs/venti/bucket"
)

// A target whose address is an s3:// URL is an object store: it keeps
// the source's arenas as objects (see package bucket), its manifest is
// its cursor, and the cursor file in its directory is only a copy of it
// for status.

func (t *target) isBucket() bool { return bucket.IsURL(t.addr) }

// openBucket opens t's bucket, with credentials from the environment or
// the state directory's s3credentials file.
func (e *Engine) openBucket(t *target) (*bucket.Bucket, error) {
	cfg, err := bucket.ParseURL(t.addr)
	if err != nil {
		return nil, permanentError{err}
	}
	b, err := bucket.Open(cfg, filepath.Join(e.opts.StateDir, bucket.CredFileName))
	if err != nil {
		return nil, permanentError{err}
	}
	return b, nil
}

// copyToBucket is copyTo for an object store: the run uploads what the
// manifest lacks, and each manifest written is the committed cursor.
func (e *Engine) copyToBucket(ctx context.Context, j *job, parts []*arena.Partition, t *target, dry bool, h hooks) error {
	b, err := e.openBucket(t)
	if err != nil {
		t.end(e.opts.Now(), err)
		return err
	}
	t.mu.Lock()
	conns := t.conns
	t.mu.Unlock()
	opts := bucket.UploadOptions{
		DryRun:   dry,
		Stop:     h.stop,
		Parallel: conns,
		Logf:     func(f string, a ...any) { e.event("target %s: "+f, append([]any{t.name}, a...)...) },
	}
	if dry {
		st, err := bucket.Upload(ctx, b, parts, opts)
		if err != nil {
			return bucketErr(err)
		}
		j.addResult(fmt.Sprintf("%s: would send arenas %d clumps %d bytes %d", t.name, st.Arenas, st.Clumps, st.Bytes))
		return nil
	}
	t.mu.Lock()
	cur := t.cursor
	t.mu.Unlock()
	t.begin(e.opts.Now(), cur)
	var (
		mu   sync.Mutex
		last bucket.Progress
	)
	opts.RootScor = h.log
	opts.Throttle = func(n int) { t.limit.wait(n, h.stop) }
	opts.Progress = func(p bucket.Progress) {
		mu.Lock()
		defer mu.Unlock()
		t.progress(e.opts.Now(), arena.Progress{Arena: p.Arena, Offset: p.Sent, Clumps: max(p.Clumps, last.Clumps), Bytes: p.Bytes})
		j.addProgress(max(0, p.Clumps-last.Clumps), max(0, p.Bytes-last.Bytes))
		last.Clumps, last.Bytes = max(p.Clumps, last.Clumps), max(p.Bytes, last.Bytes)
	}
	opts.Commit = func(m *bucket.Manifest) {
		c := m.Cursor()
		if err := makeDir(t.dir); err == nil {
			if err := e.writeFile(t.cursorFile(), c.Marshal()); err != nil {
				e.logf("target %s: %v", t.name, err)
			}
		}
		t.commit(c)
		if h.pace != nil {
			h.pace(h.stop)
		}
	}
	st, err := bucket.Upload(ctx, b, parts, opts)
	err = bucketErr(err)
	name, off := st.Arena, st.Offset
	if name == "" {
		name = "-"
	}
	e.endRun(j, t, err, fmt.Sprintf("arenas %d clumps %d bytes %d objects %d", st.Arenas, st.Clumps, st.Bytes, st.Objects), st.Objects > 0, name, off)
	return err
}

// bucketErr marks the errors trying again cannot mend: another
// writer's manifest or another venti's arenas.
func bucketErr(err error) error {
	if errors.Is(err, bucket.ErrConflict) {
		return permanentError{err}
	}
	return err
}

// bucketStore opens t's copy as a read-only venti, for verify.
func (e *Engine) bucketStore(ctx context.Context, t *target) (*bucket.Store, error) {
	b, err := e.openBucket(t)
	if err != nil {
		return nil, err
	}
	return bucket.OpenStore(ctx, b, bucket.StoreOptions{})
}
