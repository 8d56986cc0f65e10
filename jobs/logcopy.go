package jobs

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"replfs/ctl"
	"replfs/rootscor"
	"replfs/venti"
	"replfs/venti/bucket"
)

// The root score log travels with the data: after a run brings a
// target's arenas up to date, the log as it stood before the run's
// flush (so every archive it names was in the arenas the run copied)
// is written into the target as venti data under a replfs/rootscor
// root (rootscor.WriteLog), whose prev is the copy written before it,
// and the target synced. A log unchanged since the last copy writes
// nothing. What the target holds is kept in its directory:
//
//	vac:ROOT lines SHA1
//
// and shown in its status as rootscor vac:ROOT n lines.

// A logStore is where a log copy goes: a venti.Conn or venti.Pool.
type logStore interface {
	venti.BlockReader
	venti.BlockWriter
	Sync(ctx context.Context) error
}

// A logCopy is the root score log a target holds.
type logCopy struct {
	root  venti.Score
	lines int
	sum   [sha1.Size]byte // of the log's bytes
}

func (t *target) logFile() string { return filepath.Join(t.dir, "rootscor") }

// loadLogCopy reads what logFile says; a missing file is no copy.
func loadLogCopy(path string) (logCopy, bool, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return logCopy{}, false, nil
	}
	if err != nil {
		return logCopy{}, false, err
	}
	f := strings.Fields(string(b))
	bad := fmt.Errorf("%s: bad root score log copy %q", path, clipText(string(b)))
	if len(f) != 3 {
		return logCopy{}, false, bad
	}
	var c logCopy
	if c.root, err = venti.ParseScore(f[0]); err != nil {
		return logCopy{}, false, bad
	}
	if c.lines, err = strconv.Atoi(f[1]); err != nil || c.lines < 0 {
		return logCopy{}, false, bad
	}
	if s, err := hex.DecodeString(f[2]); err != nil || len(s) != sha1.Size {
		return logCopy{}, false, bad
	} else {
		copy(c.sum[:], s)
	}
	return c, true, nil
}

func (c logCopy) marshal() []byte {
	return fmt.Appendf(nil, "vac:%v %d %x\n", c.root, c.lines, c.sum)
}

// clipText is at most the first 40 bytes of s, for an error.
func clipText(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// sendLog leaves log on t through conn, unless t already holds it. The
// caller has synced every block the log names to t.
func (e *Engine) sendLog(ctx context.Context, t *target, conn logStore, log []byte) error {
	if len(log) == 0 {
		return nil
	}
	prev, ok, err := loadLogCopy(t.logFile())
	if err != nil {
		e.event("target %s: %v; writing the log afresh", t.name, err)
		ok = false
	}
	sum := sha1.Sum(log)
	if ok && prev.sum == sum {
		t.setLogCopy(prev)
		return nil
	}
	if e.opts.Pause != nil {
		e.opts.Pause("rootscor " + t.name)
	}
	if err := os.MkdirAll(t.dir, 0700); err != nil {
		return err
	}
	var chain venti.Score
	if ok {
		chain = prev.root
	}
	root, err := rootscor.WriteLog(ctx, conn, log, chain)
	if err != nil {
		return err
	}
	if err := conn.Sync(ctx); err != nil {
		return fmt.Errorf("sync root score log: %w", err)
	}
	c := logCopy{root: root, lines: strings.Count(string(log), "\n"), sum: sum}
	if err := e.writeFile(t.logFile(), c.marshal()); err != nil {
		return err
	}
	t.setLogCopy(c)
	e.event("target %s: root score log vac:%v, %d lines", t.name, root, c.lines)
	return nil
}

func (t *target) setLogCopy(c logCopy) {
	t.mu.Lock()
	t.log, t.logKnown = c, true
	t.mu.Unlock()
}

// logLine is the status line of the log t holds ("-" for none yet).
func (t *target) logLine() string {
	t.mu.Lock()
	known := t.logKnown
	c := t.log
	t.mu.Unlock()
	if !known {
		var ok bool
		var err error
		if c, ok, err = loadLogCopy(t.logFile()); err != nil || !ok {
			return "-"
		}
		t.setLogCopy(c)
	}
	return fmt.Sprintf("vac:%v %d lines", c.root, c.lines)
}

// recoverLog runs rootscor -r: it reads the root score log the venti
// holds and merges into the local log the records it lacks, in one
// append. Nothing in the venti is trusted further: ReadLog bounds what
// it reads, and lines that are not records are skipped.
func (e *Engine) recoverLog(ctx context.Context, j *job, c ctl.Rootscor) error {
	e.mu.Lock()
	addr, err := e.endpoint(c.Venti)
	t := e.targets[c.Venti]
	e.mu.Unlock()
	if err != nil {
		return err
	}
	if bucket.IsURL(addr) {
		return e.recoverLogBucket(ctx, j, c, addr, t)
	}
	root := c.Score
	if !c.Given {
		var ok bool
		var lc logCopy
		if t != nil {
			lc, ok, err = loadLogCopy(t.logFile())
			if err != nil {
				return err
			}
		}
		if !ok {
			return fmt.Errorf("rootscor: %s: no root score log known there; give its score (replfs venti roots finds it)", c.Venti)
		}
		root = lc.root
	}
	conn, err := dial(ctx, j, addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	rctx, cancel := untilStop(ctx, j.stop)
	defer cancel()
	log, err := rootscor.ReadLog(rctx, conn, root)
	if err != nil {
		return err
	}
	n, err := e.scores.Merge(log)
	if err != nil {
		return err
	}
	j.addResult(fmt.Sprintf("vac:%v: %d lines, %d added", root, strings.Count(string(log), "\n"), n))
	e.event("rootscor: %d records merged from vac:%v on %s", n, root, c.Venti)
	return nil
}

// recoverLogBucket is rootscor -r from an object store, which keeps
// the log beside the arenas, named in its manifest, as text.
func (e *Engine) recoverLogBucket(ctx context.Context, j *job, c ctl.Rootscor, addr string, t *target) error {
	if c.Given {
		return permanentf("rootscor: %s is an object store: it keeps one log, named by no score", c.Venti)
	}
	if t == nil {
		t = newTarget(e.opts.StateDir, addr, addr, true)
	}
	s, err := e.bucketStore(ctx, t)
	if err != nil {
		return err
	}
	defer s.Close()
	log, err := s.RootScor(ctx)
	if err != nil {
		return err
	}
	n, err := e.scores.Merge(log)
	if err != nil {
		return err
	}
	j.addResult(fmt.Sprintf("%s: %d lines, %d added", s.Manifest().RootScor, strings.Count(string(log), "\n"), n))
	e.event("rootscor: %d records merged from %s", n, c.Venti)
	return nil
}

// logToVenti leaves the root score log, just recorded, in the venti at
// addr, which holds the archive it names (snap synced it; fossilize's
// archive was written there by fossil): so that venti's arenas, and
// every copy of them, name their archives. The copy is kept as an
// ad-hoc target's. A failure is a warning in the job and /log, not the
// job's failure: the record is safe in the local log.
func (e *Engine) logToVenti(ctx context.Context, j *job, addr string) {
	t := newTarget(e.opts.StateDir, addr, addr, true)
	err := func() error {
		if err := os.MkdirAll(t.dir, 0700); err != nil {
			return err
		}
		conn, err := dial(ctx, j, addr)
		if err != nil {
			return err
		}
		defer conn.Close()
		return e.sendLog(ctx, t, conn, e.scores.Bytes())
	}()
	if err != nil {
		j.addWarning(fmt.Sprintf("rootscor: log not written to %s: %v", addr, err))
		e.event("rootscor: log not written to %s: %v", addr, err)
		return
	}
	j.addInfo("rootscor " + t.logLine())
}

// heldLog is the part of log whose archives the venti behind conn
// holds: the lines whose root block it has. A tree copy writes a
// root only after everything below it, so a root there is a whole
// archive there. This is what a copy of chosen trees may leave on a
// target without naming an archive it lacks. Lines that are not
// records are left out.
func heldLog(ctx context.Context, conn logStore, log []byte) ([]byte, error) {
	type line struct {
		text  string
		score venti.Score
	}
	var lines []line
	have := map[venti.Score]bool{}
	for _, l := range strings.SplitAfter(string(log), "\n") {
		r, err := rootscor.ParseRecord(strings.TrimSuffix(l, "\n"))
		if err != nil {
			continue
		}
		lines = append(lines, line{l, r.Score})
		have[r.Score] = false
	}
	// Probe the distinct roots, a window at a time: one round trip
	// each would be minutes over a long link.
	var mu sync.Mutex
	var first error
	slots := make(chan struct{}, 64)
	var wg sync.WaitGroup
	var distinct []venti.Score
	for s := range have {
		distinct = append(distinct, s)
	}
	for _, s := range distinct {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			ok, err := venti.Has(ctx, conn, s, venti.RootType)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && first == nil {
				first = err
			}
			have[s] = ok
		})
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	var out []byte
	for _, l := range lines {
		if have[l.score] {
			out = append(out, l.text...)
		}
	}
	return out, nil
}

// logAfterCopy leaves on the copy's destination the part of log
// (taken before the copy began) whose archives it holds. As for
// snap, a failure is a warning: the copy itself succeeded.
func (e *Engine) logAfterCopy(ctx context.Context, j *job, t *target, conn logStore, log []byte) {
	err := func() error {
		held, err := heldLog(ctx, conn, log)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(t.dir, 0700); err != nil {
			return err
		}
		return e.sendLog(ctx, t, conn, held)
	}()
	if err != nil {
		j.addWarning(fmt.Sprintf("rootscor: log not written to %s: %v", t.name, err))
		e.event("rootscor: log not written to %s: %v", t.name, err)
		return
	}
	if t.hasLog() {
		j.addInfo("rootscor " + t.name + " " + t.logLine())
	}
}

// hasLog reports whether t holds a copy of the log.
func (t *target) hasLog() bool {
	t.mu.Lock()
	known := t.logKnown
	t.mu.Unlock()
	if known {
		return true
	}
	_, ok, err := loadLogCopy(t.logFile())
	return ok && err == nil
}
