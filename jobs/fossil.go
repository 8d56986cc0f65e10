package jobs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"replfs/ctl"
	"replfs/fossil"
	"replfs/rootscor"
	"replfs/venti"
)

// The fossil side: snap, fossilize, fosreset, fossilstart, foshalt.
// One fossil job runs at a time (they share the console and the
// partition); the fossils replfs starts are kept in e.procs by
// partition.

// defaultSnapTimeout is how long snap waits for the archive. The ANTS
// documentation slept 600 s and hoped; the archiver retries a failed
// venti every 60 s forever, so there must be a limit.
const defaultSnapTimeout = 600 * time.Second

// snapPoll is how often snap syncs and reads the superblock while it
// waits, in case the console's archive line is missed.
const snapPoll = 5 * time.Second

// A fosProc is a fossil replfs started, and how, to start it again.
type fosProc struct {
	proc *fossil.Proc
	opts fossil.StartOptions
	seed []string // console commands sent after start (none with -f)
}

// lockFossil waits for the other fossil jobs; the returned func
// releases.
func (e *Engine) lockFossil(ctx context.Context, j *job) (func(), error) {
	select {
	case e.fosSem <- struct{}{}:
		return func() { <-e.fosSem }, nil
	default:
	}
	j.setPhase("waiting for another fossil job")
	sctx, release := untilStop(ctx, j.stop)
	defer release()
	select {
	case e.fosSem <- struct{}{}:
		j.setPhase("")
		return func() { <-e.fosSem }, nil
	case <-sctx.Done():
		return nil, errCancelled
	}
}

// fossilConfig returns the configured fossil.
func (e *Engine) fossilConfig(verb string) (ctl.Fossil, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cfg.fossil == nil {
		return ctl.Fossil{}, permanentf("%s: no fossil configured (ctl: fossil partition)", verb)
	}
	return *e.cfg.fossil, nil
}

// fossilPartition returns the configured fossil (zero if none) and
// the partition a command names, else the configured one.
func (e *Engine) fossilPartition(verb, given string) (ctl.Fossil, string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var cfg ctl.Fossil
	if e.cfg.fossil != nil {
		cfg = *e.cfg.fossil
	}
	if given != "" {
		return cfg, given, nil
	}
	if cfg.Partition == "" {
		return cfg, "", fmt.Errorf("%s: no partition and no fossil configured", verb)
	}
	return cfg, cfg.Partition, nil
}

// fossilVenti resolves the venti a fossil command names: name, else the
// configured fossil's, else local.
func (e *Engine) fossilVenti(name string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if name == "" && e.cfg.fossil != nil {
		name = e.cfg.fossil.Venti
	}
	if name == "" {
		name = ctl.Local
	}
	return e.endpoint(name)
}

// fsname is the name recorded with root scores.
func (e *Engine) fsname() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cfg.fossil != nil && e.cfg.fossil.Fsname != "" {
		return e.cfg.fossil.Fsname
	}
	if s := e.opts.Sysname; s != "" && !strings.ContainsAny(s, " \t\n") {
		return s
	}
	return "fossil"
}

// partKey names a partition in e.procs.
func partKey(part string) string {
	if abs, err := filepath.Abs(part); err == nil {
		return abs
	}
	return part
}

// running returns the fossil replfs runs on part, forgetting one that
// has exited.
func (e *Engine) running(part string) *fosProc {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.procs[partKey(part)]
	if p == nil {
		return nil
	}
	select {
	case <-p.proc.Exited():
		delete(e.procs, partKey(part))
		e.event("fossil on %s had exited: %v %s", part, p.proc.Err(), strings.TrimSpace(p.proc.Stderr()))
		return nil
	default:
		return p
	}
}

// console returns a console to the configured fossil: the one replfs
// started, or (Plan 9) the configured console file of one already
// running. The func releases it.
func (e *Engine) console(ctx context.Context, verb string, cfg ctl.Fossil) (*fossil.Proc, func(), error) {
	if p := e.running(cfg.Partition); p != nil {
		return p.proc, func() {}, nil
	}
	if cfg.Console != "" {
		p, err := fossil.Attach(ctx, cfg.Console, cfg.Partition)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", verb, err)
		}
		return p, func() { p.Console.Close() }, nil
	}
	return nil, nil, permanentf("%s: no fossil running on %s: fossilstart first", verb, cfg.Partition)
}

// lockedConsole returns the configured fossil and its console, holding
// the fossil lock; done releases both.
func (e *Engine) lockedConsole(ctx context.Context, j *job, verb string) (ctl.Fossil, *fossil.Proc, func(), error) {
	cfg, err := e.fossilConfig(verb)
	if err != nil {
		return cfg, nil, nil, err
	}
	release, err := e.lockFossil(ctx, j)
	if err != nil {
		return cfg, nil, nil, err
	}
	p, done, err := e.console(ctx, verb, cfg)
	if err != nil {
		release()
		return cfg, nil, nil, err
	}
	return cfg, p, func() { done(); release() }, nil
}

// record appends a root score to the log and returns its line; and to
// the conventional copy (rootscor -f) if there is one, whose failure
// is a warning in j and /log, never the record's.
func (e *Engine) record(j *job, score venti.Score, part, ventiAddr string) (string, error) {
	r := rootscor.Record{Score: score, Partition: part, Venti: ventiAddr, Fsname: e.fsname(), Time: e.opts.Now().UTC().Truncate(time.Second)}
	if err := e.scores.Append(r); err != nil {
		return "", err
	}
	e.event("rootscor %s", r)
	e.mu.Lock()
	file := e.cfg.logFile
	e.mu.Unlock()
	if file != "" {
		if err := e.appendSeed(file, r); err != nil {
			j.addWarning("rootscor -f: " + oneLine(err.Error()))
			e.event("rootscor -f: %v", err)
		}
	}
	return r.String(), nil
}

// appendSeed appends r to file in the seed scripts' format
// (vac:SCORE partition venti), synced, creating it (mode 0600); it
// refuses what checkLogFile refuses, checked again at each append.
func (e *Engine) appendSeed(file string, r rootscor.Record) error {
	if st, err := os.Lstat(file); err == nil && !st.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", file)
	} else if err == nil {
		if err := e.ownFile(file); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0600)
	if err != nil {
		return err
	}
	rec := rootscor.Record{Score: r.Score, Partition: r.Partition, Venti: r.Venti}
	_, werr := f.WriteString(rec.String() + "\n")
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("append %s: %w", file, err)
	}
	return nil
}

func (e *Engine) fossilize(ctx context.Context, j *job, c ctl.Fossilize) error {
	part := c.Partition
	if part == "" {
		cfg, err := e.fossilConfig("fossilize")
		if err != nil {
			return err
		}
		part = cfg.Partition
	}
	last, err := fossil.Last(part)
	if err != nil {
		return fmt.Errorf("fossilize: %w", err)
	}
	if last == venti.ZeroScore {
		return fmt.Errorf("fossilize: no archive yet on %s", part)
	}
	if r, ok := e.newest(part); ok && r.Score == last {
		j.addInfo("note already recorded")
		j.addResult(r.String())
		return nil
	}
	addr, err := e.fossilVenti("")
	if err != nil {
		return fmt.Errorf("fossilize: %w", err)
	}
	line, err := e.record(j, last, part, addr)
	if err != nil {
		return fmt.Errorf("fossilize: %w", err)
	}
	j.addResult(line)
	e.logToVenti(ctx, j, addr)
	return nil
}

func (e *Engine) snap(ctx context.Context, j *job, c ctl.Snap) error {
	cfg, p, done, err := e.lockedConsole(ctx, j, "snap")
	if err != nil {
		return err
	}
	defer done()
	fsys := c.Fsys
	if fsys == "" {
		fsys = "main"
	}
	timeout := defaultSnapTimeout
	if c.Timeout > 0 {
		timeout = time.Duration(c.Timeout) * time.Second
	}
	_, before, err := fossil.ReadSuper(cfg.Partition)
	if err != nil {
		return fmt.Errorf("snap: %w", err)
	}
	skip := len(p.Console.Events())
	j.setPhase("snap -a")
	cmd := "fsys " + fsys + " snap -a"
	if out, err := p.Console.Cmd(ctx, cmd); err != nil {
		return fmt.Errorf("snap: %w", err)
	} else if out != "" {
		return fmt.Errorf("snap: %s: %s", cmd, strings.Join(strings.Fields(out), " "))
	}

	// Wait: fossil says "archive vac:…" when its archiver is done, and
	// after a sync the superblock shows it: nothing waiting (next) or
	// being archived (current), and a new last. The superblock decides,
	// so an archive started before ours (fossil's own schedule) does
	// not count.
	wctx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("no archive after %v", timeout))
	defer cancel()
	events := make(chan string, 1)
	go func() {
		for n := skip; ; n++ {
			ev, err := p.Console.NextEvent(wctx, n)
			if err != nil {
				return
			}
			select {
			case events <- ev:
			case <-wctx.Done():
				return
			}
		}
	}()
	tick := time.NewTicker(snapPoll)
	defer tick.Stop()
	start := time.Now()
	var said string // the archive line, if any
	var s fossil.Super
	for {
		sync := "fsys " + fsys + " sync"
		if out, err := p.Console.Cmd(wctx, sync); err != nil {
			return fmt.Errorf("snap: %w", waitErr(wctx, p, err))
		} else if bad := consoleErr(out); bad != "" {
			return fmt.Errorf("snap: %s: %s", sync, bad)
		}
		if _, s, err = fossil.ReadSuper(cfg.Partition); err != nil {
			return fmt.Errorf("snap: %w", err)
		}
		if !s.Archiving() && s.Last != before.Last && s.Last != venti.ZeroScore {
			break
		}
		j.setPhase("waiting for the archive, %v so far", time.Since(start).Round(time.Second))
		select {
		case said = <-events:
		case <-tick.C:
		case <-p.Exited():
			return fmt.Errorf("snap: %w", waitErr(wctx, p, nil))
		case <-wctx.Done():
			return fmt.Errorf("snap: %w", context.Cause(wctx))
		}
	}
	if said != "" && said != "archive vac:"+s.Last.String() {
		j.addInfo("note fossil said " + said + ", the superblock has vac:" + s.Last.String())
	}
	addr, err := e.fossilVenti("")
	if err != nil {
		return fmt.Errorf("snap: %w", err)
	}
	// The archive's blocks must be on the venti's disk before anyone
	// copies its arenas.
	j.setPhase("sync venti %s", addr)
	if err := syncVenti(ctx, j, addr); err != nil {
		return fmt.Errorf("snap: sync venti %s: %w", addr, err)
	}
	line, err := e.record(j, s.Last, cfg.Partition, addr)
	if err != nil {
		return fmt.Errorf("snap: %w", err)
	}
	j.addResult(line)
	e.logToVenti(ctx, j, addr)
	return nil
}

// waitErr says why snap's wait for the archive failed with err: the
// fossil exited, or the wait ended (its timeout, the job's end), else
// err itself.
func waitErr(ctx context.Context, p *fossil.Proc, err error) error {
	select {
	case <-p.Exited():
		return fmt.Errorf("fossil on %s exited: %v", p.Partition, p.Err())
	default:
	}
	if c := context.Cause(ctx); c != nil {
		return c
	}
	return err
}

// consoleErr returns what in a sync's output is not its report.
func consoleErr(out string) string {
	var bad []string
	for _, l := range strings.Split(out, "\n") {
		if l != "" && !strings.Contains(l, " sync: wrote ") {
			bad = append(bad, strings.TrimSpace(l))
		}
	}
	return strings.Join(bad, "; ")
}

func syncVenti(ctx context.Context, j *job, addr string) error {
	c, err := dial(ctx, j, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Sync(ctx)
}

func (e *Engine) fossilstart(ctx context.Context, j *job, c ctl.Fossilstart) error {
	release, err := e.lockFossil(ctx, j)
	if err != nil {
		return err
	}
	defer release()
	cfg, part, err := e.fossilPartition("fossilstart", c.Partition)
	if err != nil {
		return err
	}
	if part != cfg.Partition {
		cfg = ctl.Fossil{Partition: part, Program: cfg.Program, Venti: cfg.Venti, Listen: cfg.Listen}
	}
	addr, err := e.fossilVenti(cfg.Venti)
	if err != nil {
		return fmt.Errorf("fossilstart: %w", err)
	}
	prog, err := e.program(cfg.Program)
	if err != nil {
		return fmt.Errorf("fossilstart: %w", err)
	}
	fp := &fosProc{opts: fossil.StartOptions{
		Program:   prog,
		Partition: part,
		UseConfig: c.UseConfig || cfg.UseConfig,
		Venti:     addr,
		Name:      c.Name,
		StateDir:  filepath.Join(e.opts.StateDir, "fossil", escapeName(partKey(part))),
	}}
	if !fp.opts.UseConfig {
		fp.seed = fossil.SeedCommands(part, c.Name, cfg.Listen)
	}
	if err := e.startFossil(ctx, j, fp); err != nil {
		return fmt.Errorf("fossilstart: %w", err)
	}
	return nil
}

// checkProgram refuses a fossil program ("" is the default) that is
// not one of those replfs was started with.
func (e *Engine) checkProgram(prog string) error {
	if prog != "" && !slices.Contains(e.opts.Fossils, filepath.Clean(prog)) {
		return fmt.Errorf("program %s is not one replfs was started with (-F)", ctl.Clip(prog))
	}
	return nil
}

// program returns the fossil program to run for the configured one:
// that one if replfs was started with it, else the first.
func (e *Engine) program(prog string) (string, error) {
	if err := e.checkProgram(prog); err != nil {
		return "", err
	}
	if prog != "" {
		return filepath.Clean(prog), nil
	}
	if len(e.opts.Fossils) == 0 {
		return "", errors.New("no fossil program: start replfs with -F program")
	}
	return e.opts.Fossils[0], nil
}

// startFossil starts fp's fossil on its partition and keeps it.
func (e *Engine) startFossil(ctx context.Context, j *job, fp *fosProc) error {
	part := fp.opts.Partition
	if p := e.running(part); p != nil {
		return fmt.Errorf("a fossil already runs on %s (pid %d)", part, p.proc.Pid)
	}
	if err := e.ownFile(part); err != nil {
		return err
	}
	if _, _, err := fossil.ReadSuper(part); err != nil {
		return err
	}
	if err := fossil.NotHeld(part); err != nil {
		return err
	}
	j.setPhase("starting fossil on %s", part)
	p, err := fossil.Start(ctx, fp.opts)
	if err != nil {
		return err
	}
	fp.proc = p
	for _, cmd := range fp.seed {
		out, err := p.Console.Cmd(ctx, cmd)
		if err == nil && out != "" {
			j.addInfo("fossil " + cmd + ": " + strings.Join(strings.Fields(out), " "))
			if strings.HasPrefix(cmd, "fsys main config") || strings.HasPrefix(cmd, "fsys main open") {
				err = errors.New(strings.TrimSpace(out))
			}
		}
		if err != nil {
			p.Stop(context.WithoutCancel(ctx))
			return fmt.Errorf("%s: %w", cmd, err)
		}
	}
	e.mu.Lock()
	e.procs[partKey(part)] = fp
	e.mu.Unlock()
	j.addResult(fmt.Sprintf("fossil on %s pid %d venti %s", part, p.Pid, fp.opts.Venti))
	e.event("fossil started on %s, pid %d", part, p.Pid)
	return nil
}

// ownFile refuses a partition that is a file replfs itself uses: a
// source arena partition (the embedded venti's or the configured
// source's) or anything in the state directory (the configuration, the
// cursors, the root score log). Holders does not see replfs's own open
// files, and a name proves nothing: files are compared by device and
// inode.
func (e *Engine) ownFile(part string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ownFileLocked(part)
}

// ownFileLocked is ownFile with e.mu held (as a ctl check holds it): a
// few stats, of the sources and the state directory's files.
func (e *Engine) ownFileLocked(part string) error {
	st, err := os.Stat(part)
	if err != nil {
		return err
	}
	var srcs []string
	if e.opts.Embedded != nil {
		srcs = append(srcs, e.opts.Embedded.Partitions...)
	}
	if e.cfg.source != nil {
		srcs = append(srcs, e.cfg.source.Partitions...)
	}
	for _, p := range srcs {
		if pst, err := os.Stat(p); err == nil && os.SameFile(st, pst) {
			return fmt.Errorf("%s: replfs's source arena partition (%s)", part, p)
		}
	}
	var own string
	filepath.WalkDir(e.opts.StateDir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if pst, err := os.Stat(p); err == nil && os.SameFile(st, pst) {
			own = p
			return filepath.SkipAll
		}
		return nil
	})
	if own != "" {
		return fmt.Errorf("%s: replfs's own file (%s)", part, own)
	}
	return nil
}

func (e *Engine) foshalt(ctx context.Context, j *job, c ctl.Foshalt) error {
	cfg, p, done, err := e.lockedConsole(ctx, j, "foshalt")
	if err != nil {
		return err
	}
	defer done()
	if err := e.haltFossil(ctx, j, p); err != nil {
		return fmt.Errorf("foshalt: %w", err)
	}
	j.addResult("fossil on " + cfg.Partition + " halted")
	return nil
}

// haltFossil syncs the venti, then syncs, halts and ends the fossil.
func (e *Engine) haltFossil(ctx context.Context, j *job, p *fossil.Proc) error {
	if addr, err := e.fossilVenti(""); err == nil {
		j.setPhase("sync venti %s", addr)
		if err := syncVenti(ctx, j, addr); err != nil {
			j.addInfo("note venti sync " + addr + ": " + err.Error())
		}
	}
	j.setPhase("halting fossil on %s", p.Partition)
	err := p.Stop(ctx)
	e.mu.Lock()
	delete(e.procs, partKey(p.Partition))
	e.mu.Unlock()
	e.event("fossil on %s stopped", p.Partition)
	return err
}

func (e *Engine) fosreset(ctx context.Context, j *job, c ctl.Fosreset) error {
	release, err := e.lockFossil(ctx, j)
	if err != nil {
		return err
	}
	defer release()
	cfg, part, err := e.fossilPartition("fosreset", c.Partition)
	if err != nil {
		return err
	}
	addr, err := e.fossilVenti(c.Venti)
	if err != nil {
		return fmt.Errorf("fosreset: %w", err)
	}
	if err := e.ownFile(part); err != nil {
		return fmt.Errorf("fosreset: %w", err)
	}
	if err := fossil.CheckFormat(part, 0); err != nil {
		return fmt.Errorf("fosreset: %w", err)
	}
	if _, _, err := fossil.ReadSuper(part); err != nil && !errors.Is(err, fossil.ErrNotFossil) {
		return fmt.Errorf("fosreset: %w", err)
	}
	// Nothing is touched until the venti is known to have the archive.
	j.setPhase("reading vac:%v from %s", c.Score, addr)
	vc, err := dial(ctx, j, addr)
	if err != nil {
		return fmt.Errorf("fosreset: venti %s: %w", addr, err)
	}
	defer vc.Close()
	if err := fossil.CheckArchive(ctx, vc, c.Score); err != nil {
		return fmt.Errorf("fosreset: vac:%v on %s: %w", c.Score, addr, err)
	}
	// What is being replaced is recorded first, as cpsys's fossilize
	// did, unless the log already ends with it.
	if last, err := fossil.Last(part); err == nil && last != venti.ZeroScore && last != c.Score {
		if r, ok := e.newest(part); !ok || r.Score != last {
			old, _ := e.fossilVenti("")
			line, err := e.record(j, last, part, old)
			if err != nil {
				return fmt.Errorf("fosreset: record the old root: %w", err)
			}
			j.addInfo("saved " + line)
		}
	}
	fp := e.running(part)
	if fp != nil {
		if err := e.haltFossil(ctx, j, fp.proc); err != nil {
			return fmt.Errorf("fosreset: %w", err)
		}
	} else if cfg.Console != "" && partKey(cfg.Partition) == partKey(part) && e.opts.Consoles {
		p, err := fossil.Attach(ctx, cfg.Console, part)
		if err == nil {
			err = e.haltFossil(ctx, j, p)
		}
		if err != nil {
			return fmt.Errorf("fosreset: %w", err)
		}
	}
	if err := fossil.NotHeld(part); err != nil {
		return fmt.Errorf("fosreset: %w", err)
	}
	j.setPhase("flfmt -v %v %s", c.Score, part)
	if err := fossil.FormatV(ctx, part, vc, c.Score, fossil.FormatOptions{Force: true}); err != nil {
		return fmt.Errorf("fosreset: %w", err)
	}
	e.event("fosreset %s on vac:%v from %s", part, c.Score, addr)
	j.addResult(fmt.Sprintf("%s re-rooted on vac:%v from %s", part, c.Score, addr))
	if fp != nil {
		fp.proc = nil
		if err := e.startFossil(ctx, j, fp); err != nil {
			return fmt.Errorf("fosreset: restart fossil: %w", err)
		}
	}
	return nil
}

// newest returns the newest record for part, if any: fossilize and
// fosreset do not record a root again that the log already ends with.
func (e *Engine) newest(part string) (rootscor.Record, bool) {
	recs := e.scores.Records()
	for i := len(recs) - 1; i >= 0; i-- {
		if partKey(recs[i].Partition) == partKey(part) {
			return recs[i], true
		}
	}
	return rootscor.Record{}, false
}

// stopFossils halts and ends the fossils replfs started, when it stops.
func (e *Engine) stopFossils() {
	e.mu.Lock()
	var ps []*fosProc
	for _, p := range e.procs {
		ps = append(ps, p)
	}
	e.procs = map[string]*fosProc{}
	e.mu.Unlock()
	for _, p := range ps {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := p.proc.Stop(ctx); err != nil {
			e.logf("fossil on %s: %v", p.opts.Partition, err)
		}
		cancel()
	}
}
