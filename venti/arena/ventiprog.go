package arena

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"replfs/venti"
)

// A Target is where CopyArenas writes: a venti connection.
type Target interface {
	Write(ctx context.Context, t venti.Type, data []byte) (venti.Score, error)
	Sync(ctx context.Context) error
}

// A scoreWriter writes a block whose score is known, without hashing it
// again; venti.Conn is one. CopyArenas uses it when the target has it:
// Scan has already checked each clump's data against its score.
type scoreWriter interface {
	WriteScore(ctx context.Context, t venti.Type, data []byte, score venti.Score) error
}

// CopyOptions control CopyArenas. The zero value is ready to use.
type CopyOptions struct {
	// Window is how many writes are in flight at once. Zero is the
	// target's own Window if it has one (a venti.Pool sizes its own to
	// the path), else 64.
	Window int
	// DryRun counts what would be sent and sends nothing.
	DryRun bool
	// Checkpoint is how many bytes of log are sent between syncs of the
	// target; default 64 MiB. Each arena's end is a checkpoint too.
	Checkpoint int64
	// Commit is called after each sync of the target with the cursor
	// reached, for the caller to make durable. An error stops the copy.
	Commit func(Cursor) error
	// Progress, if set, is called after each clump is handed to the
	// target and at each checkpoint.
	Progress func(Progress)
	// Logf reports corrupt clumps; nil discards.
	Logf func(format string, args ...any)
	// Throttle, if set, is called with each clump's size before it is
	// sent, and may block to keep a rate; the copy waits for it.
	Throttle func(n int)
	// Stop, when closed, ends the copy cleanly: the writes in flight
	// finish, the target is synced and the cursor reached is committed,
	// and CopyArenas returns ErrStopped. Cancelling ctx instead abandons
	// what is in flight and keeps the last commit.
	Stop <-chan struct{}
}

// ErrStopped is returned by CopyArenas when opts.Stop was closed.
var ErrStopped = errors.New("stopped")

// Progress is CopyArenas' position.
type Progress struct {
	Arena   string
	Offset  int64 // log offset reached in Arena
	Clumps  int64 // sent so far in this run
	Bytes   int64 // block bytes sent so far
	Corrupt int64 // corrupt clumps skipped
}

// CopyStats count a run. In a dry run they are what would be sent.
type CopyStats struct {
	Arenas  int   // arenas from which clumps were (or would be) sent
	Clumps  int64 // clumps sent
	Bytes   int64 // bytes of blocks sent (uncompressed)
	Corrupt int64 // corrupt clumps skipped, never sent
	// FirstCorrupt is the first of them (nil if none): its error names
	// its arena and offset.
	FirstCorrupt error
	// Arena and Offset are where the run ended: the last arena with
	// clumps sent and the offset reached in it.
	Arena  string
	Offset int64
}

// CopyArenas sends to dst every clump of the partitions' arenas that
// cur says dst lacks, arena by arena in order, as wrarena would from
// each arena's saved offset. Writes are pipelined, Window at a time.
// At each checkpoint it waits for the writes, syncs dst, and only then
// calls Commit with the new cursor, so a committed cursor never counts
// a clump dst has not made durable. A sealed arena copied to its end is
// marked done and not read again; arenas that have gained clumps since
// are picked up from where they were. A corrupt clump is reported with
// its arena and offset, counted, skipped, and never sent.
//
// CopyArenas rereads each arena's trailer, so the partitions may be
// those of a running venti; flush it first so its directories are on
// disk. It returns the cursor reached (the last one committed when it
// fails); a dry run returns the cursor a real run would reach.
func CopyArenas(ctx context.Context, parts []*Partition, cur Cursor, dst Target, opts CopyOptions) (Cursor, CopyStats, error) {
	if opts.Checkpoint <= 0 {
		opts.Checkpoint = 64 << 20
	}
	c := &copier{dst: dst, opts: opts, next: cur.Clone(), committed: cur.Clone()}
	for _, p := range parts {
		for _, a := range p.Arenas {
			if c.stopped() {
				if c.dirty && !opts.DryRun {
					if err := c.commit(ctx); err != nil {
						return c.committed, c.stats, err
					}
				}
				return c.committed, c.stats, ErrStopped
			}
			if err := c.arena(ctx, a); err != nil {
				return c.committed, c.stats, err
			}
		}
	}
	// Done marks found without sending anything still need recording.
	if c.dirty && !opts.DryRun {
		if err := c.commit(ctx); err != nil {
			return c.committed, c.stats, err
		}
	}
	if opts.DryRun {
		return c.next, c.stats, nil
	}
	return c.committed, c.stats, nil
}

type copier struct {
	dst       Target
	opts      CopyOptions
	next      Cursor // where the run has reached
	committed Cursor // the last cursor handed to Commit
	dirty     bool   // next differs from committed
	stats     CopyStats
}

func (c *copier) stopped() bool {
	select {
	case <-c.opts.Stop:
		return true
	default:
		return false
	}
}

func (c *copier) logf(format string, args ...any) {
	if c.opts.Logf != nil {
		c.opts.Logf(format, args...)
	}
}

func (c *copier) progress(arena string, off int64) {
	if c.opts.Progress != nil {
		c.opts.Progress(Progress{arena, off, c.stats.Clumps, c.stats.Bytes, c.stats.Corrupt})
	}
}

// corrupt counts a corrupt clump skipped.
func (c *copier) corrupt(err error) {
	c.stats.Corrupt++
	if c.stats.FirstCorrupt == nil {
		c.stats.FirstCorrupt = err
	}
}

// commit syncs dst and hands the cursor reached to Commit.
func (c *copier) commit(ctx context.Context) error {
	if err := c.commitCursor(ctx, c.next.Clone()); err != nil {
		return err
	}
	c.dirty = false
	return nil
}

// commitCursor syncs dst and hands cur to Commit. Within an arena it
// runs in send's committer, alone: the sender does not touch committed
// until the committer has ended.
func (c *copier) commitCursor(ctx context.Context, cur Cursor) error {
	if err := c.dst.Sync(ctx); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	if c.opts.Commit != nil {
		if err := c.opts.Commit(cur.Clone()); err != nil {
			return fmt.Errorf("commit cursor: %w", err)
		}
	}
	c.committed = cur
	return nil
}

// arena copies what is new in one arena.
func (c *copier) arena(ctx context.Context, a *Arena) error {
	pos := c.next[a.Name]
	if pos.Done {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	snap, err := a.Snapshot()
	if err != nil {
		return err
	}
	used := int64(snap.Mem.Used)
	if pos.Offset > used {
		return fmt.Errorf("arena %s: cursor %#x past the end of its log %#x", a.Name, pos.Offset, used)
	}
	if pos.Offset == used {
		if snap.Mem.Sealed {
			c.next[a.Name] = Position{used, true}
			c.dirty = true
		}
		return nil
	}
	if c.opts.DryRun {
		return c.dryRun(ctx, snap, pos.Offset)
	}
	return c.send(ctx, snap, pos.Offset)
}

// dryRun counts the clumps after from without reading them.
func (c *copier) dryRun(ctx context.Context, a *Arena, from int64) error {
	dir, err := a.ReadDir(0, a.Mem.Clumps)
	if err != nil {
		return err
	}
	var off int64
	n := int64(0)
	for _, ci := range dir {
		if off >= from {
			if ci.Type() == venti.CorruptType {
				c.corrupt(a.errorf("corrupt clump at %#x: +%d", off, ClumpSize+int(ci.Size)))
			} else {
				n++
				c.stats.Clumps++
				c.stats.Bytes += int64(ci.Uncsize)
			}
		}
		off += ClumpSize + int64(ci.Size)
	}
	if n > 0 {
		c.stats.Arenas++
		c.stats.Arena, c.stats.Offset = a.Name, off
	}
	c.next[a.Name] = Position{Offset: off, Done: a.Mem.Sealed && off == int64(a.Mem.Used)}
	return nil
}

// window returns the window the copy's writes share.
func (c *copier) window() *venti.Window {
	if c.opts.Window <= 0 {
		if w, ok := c.dst.(interface{ Window() *venti.Window }); ok {
			return w.Window()
		}
		return venti.NewWindow(64, nil)
	}
	return venti.NewWindow(c.opts.Window, nil)
}

type writeJob struct {
	typ   venti.Type
	score venti.Score
	data  []byte
	buf   *[]byte // returned to the pool when written
}

// send copies the clumps of a from offset from, with a window of writes
// in flight and a checkpoint every opts.Checkpoint bytes.
func (c *copier) send(ctx context.Context, a *Arena, from int64) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		pool    = sync.Pool{New: func() any { b := make([]byte, 0, venti.MaxLumpSize); return &b }}
		pending sync.WaitGroup // writes not yet answered
		failed  atomic.Bool
	)
	sw, _ := c.dst.(scoreWriter)
	write := func(j writeJob) error {
		if sw != nil {
			return sw.WriteScore(ctx, j.typ, j.data, j.score)
		}
		_, err := c.dst.Write(ctx, j.typ, j.data)
		return err
	}
	win := c.window()
	// Checkpoints within the arena do not stop the sending: the writes
	// handed out since the last are an epoch, and a committer waits for
	// each epoch's answers in turn, then syncs and commits the cursor at
	// its end, while the next epoch goes out. (A sync makes durable
	// everything the server has answered, so it may cover more than the
	// epoch; never less.) One epoch may wait behind the one committing.
	type check struct {
		epoch  *sync.WaitGroup
		cursor Cursor
	}
	epoch := new(sync.WaitGroup)
	checks := make(chan check, 1)
	committer := make(chan struct{})
	go func() {
		defer close(committer)
		for ck := range checks {
			ck.epoch.Wait()
			if failed.Load() {
				continue
			}
			if err := c.commitCursor(ctx, ck.cursor); err != nil && failed.CompareAndSwap(false, true) {
				cancel(err)
			}
		}
	}()
	endChecks := sync.OnceFunc(func() { close(checks); <-committer })
	defer endChecks()
	// start writes j in a goroutine of its own, once the window has room.
	start := func(j writeJob) error {
		if err := win.Acquire(ctx, len(j.data)); err != nil {
			return err
		}
		pending.Add(1)
		ep := epoch
		ep.Add(1)
		go func() {
			defer pending.Done()
			defer ep.Done()
			var err error
			if !failed.Load() {
				if err = write(j); err != nil && failed.CompareAndSwap(false, true) {
					cancel(fmt.Errorf("write: %w", err))
				}
			}
			win.Release(len(j.data), len(j.data), err)
			pool.Put(j.buf)
		}()
		return nil
	}
	defer pending.Wait()
	// drain waits for the writes handed out and says whether all worked.
	drain := func() error {
		pending.Wait()
		if failed.Load() {
			return context.Cause(ctx)
		}
		return nil
	}
	sinceCheck := int64(0)
	sent := false
	stopAt := int64(-1) // where a stop left off
	end, err := a.Scan(ctx, from, func(cl *Clump) error {
		if c.stopped() {
			stopAt = cl.Offset
			return ErrStopped
		}
		if sinceCheck >= c.opts.Checkpoint {
			if failed.Load() {
				return context.Cause(ctx)
			}
			c.next[a.Name] = Position{Offset: cl.Offset}
			select {
			case checks <- check{epoch, c.next.Clone()}:
			case <-ctx.Done():
				return context.Cause(ctx)
			}
			epoch = new(sync.WaitGroup)
			c.progress(a.Name, cl.Offset)
			sinceCheck = 0
		}
		sinceCheck += ClumpSize + int64(cl.Info.Size)
		if cl.Err != nil {
			c.corrupt(cl.Err)
			c.logf("%v", cl.Err)
			return nil
		}
		if failed.Load() {
			return context.Cause(ctx)
		}
		if c.opts.Throttle != nil {
			c.opts.Throttle(len(cl.Data))
			if c.stopped() {
				stopAt = cl.Offset
				return ErrStopped
			}
		}
		bp := pool.Get().(*[]byte)
		b := append((*bp)[:0], cl.Data...)
		*bp = b
		if err := start(writeJob{cl.Type, cl.Score, b, bp}); err != nil {
			return context.Cause(ctx)
		}
		if !sent {
			sent = true
			c.stats.Arenas++
		}
		c.stats.Clumps++
		c.stats.Bytes += int64(len(b))
		c.stats.Arena, c.stats.Offset = a.Name, cl.Offset+ClumpSize+int64(cl.Info.Size)
		c.progress(a.Name, c.stats.Offset)
		return nil
	})
	endChecks()
	if werr := drain(); err == nil || (errors.Is(err, ErrStopped) && werr != nil) {
		err = werr
	}
	if errors.Is(err, ErrStopped) {
		// Everything before stopAt was sent and answered: commit it.
		c.next[a.Name] = Position{Offset: stopAt}
		c.dirty = true
		if err := c.commit(ctx); err != nil {
			return fmt.Errorf("arena %s: %w", a.Name, err)
		}
		c.progress(a.Name, stopAt)
		return ErrStopped
	}
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && errors.Is(err, context.Canceled) {
			err = cause
		}
		return fmt.Errorf("arena %s: %w", a.Name, err)
	}
	c.next[a.Name] = Position{Offset: end, Done: a.Mem.Sealed && end == int64(a.Mem.Used)}
	if err := c.commit(ctx); err != nil {
		return fmt.Errorf("arena %s: %w", a.Name, err)
	}
	c.progress(a.Name, end)
	return nil
}
