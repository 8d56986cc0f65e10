package jobs

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"replfs/ctl"
	"replfs/venti/arena"
)

// Targets returns the names of the configured targets, sorted.
func (e *Engine) Targets() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.targetNames()
}

// TargetStatus returns a target's status file.
func (e *Engine) TargetStatus(name string) (string, bool) {
	e.mu.Lock()
	t, ok := e.targets[name]
	src, serr := e.currentSource()
	e.mu.Unlock()
	if !ok {
		return "", false
	}
	var parts []*arena.Partition
	if serr == nil {
		parts, _ = e.partitions(src)
	}
	s := t.snapshot()
	return s.render(lagOf(parts, s.cursor), e.opts.Now()), true
}

// lagOf measures how far a cursor is behind the source: bytes of log,
// clumps and bytes of blocks (what a copy sends) not yet copied, and the arena in progress. Finished arenas
// are not read; others cost a trailer read, and a directory read where
// there is something to count.
func lagOf(parts []*arena.Partition, cur arena.Cursor) lag {
	if parts == nil {
		return lag{}
	}
	l := lag{known: true}
	if p, a := arena.InProgress(parts, cur); p != nil {
		l.arena, l.offset = a.Name, cur[a.Name].Offset
	}
	for _, p := range parts {
		for _, a := range p.Arenas {
			pos := cur[a.Name]
			if pos.Done {
				continue
			}
			s, err := a.Snapshot()
			if err != nil || int64(s.Mem.Used) <= pos.Offset {
				continue
			}
			l.bytes += int64(s.Mem.Used) - pos.Offset
			dir, err := s.ReadDir(0, s.Mem.Clumps)
			if err != nil {
				continue
			}
			var off int64
			for _, ci := range dir {
				if off >= pos.Offset {
					l.clumps++
					l.data += int64(ci.Uncsize)
				}
				off += arena.ClumpSize + int64(ci.Size)
			}
		}
	}
	return l
}

// Status returns /status: the source, each target in a line, the jobs
// not finished, and the jobs whose record could not be saved.
func (e *Engine) Status() string {
	e.mu.Lock()
	var b strings.Builder
	src, err := e.currentSource()
	switch {
	case err != nil:
		b.WriteString("source -\n")
	case e.cfg.source == nil:
		fmt.Fprintf(&b, "source %s %s embedded\n", ctl.Local, src.Addr)
	default:
		fmt.Fprintf(&b, "source %s %s %s\n", ctl.Local, src.Addr, strings.Join(src.Partitions, " "))
	}
	ts := e.targetList()
	js := slices.Clone(e.jobs)
	corrupt := slices.Clone(e.corrupt)
	e.mu.Unlock()
	for _, t := range ts {
		s := t.snapshot()
		fmt.Fprintf(&b, "target %s %s %s\n", s.name, s.addr, s.state)
	}
	for _, c := range corrupt {
		fmt.Fprintf(&b, "corrupt %s\n", c)
	}
	var unsaved []string
	for _, j := range js {
		j.mu.Lock()
		if !j.rec.finished() {
			fmt.Fprintf(&b, "job %d %s %s\n", j.id, j.rec.State, j.rec.line())
		}
		if j.unsaved != nil {
			unsaved = append(unsaved, fmt.Sprintf("unsaved job %d %s\n", j.id, oneLine(j.unsaved.Error())))
		}
		j.mu.Unlock()
	}
	for _, l := range unsaved {
		b.WriteString(l)
	}
	return b.String()
}

// targetList returns the configured targets by name; e.mu is held.
func (e *Engine) targetList() []*target {
	var ts []*target
	for _, n := range e.targetNames() {
		ts = append(ts, e.targets[n])
	}
	return ts
}

// WrCmd returns /wrcmd: for each target, the wrarena command that would
// carry it on from its cursor.
func (e *Engine) WrCmd() string {
	e.mu.Lock()
	src, err := e.currentSource()
	ts := e.targetList()
	e.mu.Unlock()
	if err != nil {
		return ""
	}
	parts, err := e.partitions(src)
	if err != nil {
		return ""
	}
	var b strings.Builder
	for _, t := range ts {
		if t.isBucket() {
			continue // not a venti: no wrarena reaches it
		}
		if line := arena.WrCmd(parts, t.snapshot().cursor, t.addr); line != "" {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// ImportWrCmd takes a write to /wrcmd: a wrarena command line naming a
// target with -h, or an ANTS bkup.info file (venti=... and arena=0x...
// lines), and sets that target's cursor from it.
func (e *Engine) ImportWrCmd(ctx context.Context, text string) error {
	e.mu.Lock()
	src, err := e.currentSource()
	ts := e.targetList()
	e.mu.Unlock()
	if err != nil {
		return err
	}
	parts, err := e.partitions(src)
	if err != nil {
		return err
	}
	var addr string
	var cur arena.Cursor
	byAddr := func(a string) (*target, error) {
		for _, t := range ts {
			if t.addr == a || t.name == a {
				return t, nil
			}
		}
		return nil, fmt.Errorf("no target with address %s", a)
	}
	first := strings.TrimSpace(text)
	if i := strings.IndexByte(first, '\n'); i >= 0 {
		first = first[:i]
	}
	var t *target
	if f := strings.Fields(first); len(f) > 0 && (f[0] == "wrarena" || strings.HasSuffix(f[0], "/wrarena")) {
		w, err := arena.ParseWrCmd(first)
		if err != nil {
			return err
		}
		if w.Host == "" {
			return fmt.Errorf("wrcmd: no -h target in %q", first)
		}
		addr = w.Host
		if t, err = byAddr(addr); err != nil {
			return err
		}
		if cur, err = arena.ImportWrCmd(parts, t.snapshot().cursor, w); err != nil {
			return err
		}
	} else {
		if addr, cur, err = arena.ImportBkupInfo(parts, nil, text); err != nil {
			return err
		}
		if addr == "" {
			return fmt.Errorf("bkup.info: no venti= line")
		}
		if t, err = byAddr(addr); err != nil {
			return err
		}
		old := t.snapshot().cursor
		merged := old.Clone()
		for k, v := range cur {
			merged[k] = v
		}
		cur = merged
	}
	select {
	case t.run <- struct{}{}:
		defer func() { <-t.run }()
	default:
		return fmt.Errorf("target %s is busy", t.name)
	}
	if err := makeDir(t.dir); err != nil {
		return err
	}
	if err := e.writeFile(t.cursorFile(), cur.Marshal()); err != nil {
		return err
	}
	t.commit(cur)
	e.event("target %s: cursor imported", t.name)
	return nil
}
