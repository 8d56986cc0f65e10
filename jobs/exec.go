package jobs

import (
	"context"
	"fmt"
	"os"

	"replfs/ctl"
)

// Exec runs the control messages in text, as one write to /ctl: see
// ExecJobs.
func (e *Engine) Exec(ctx context.Context, text string) error {
	_, err := e.ExecJobs(ctx, text)
	return err
}

// ExecJobs runs the control messages in text, as one write to /ctl,
// and returns the ids of the jobs it started. All are parsed and
// checked first, against the configuration as the earlier ones leave
// it, and the configuration they make is saved before any of them
// takes effect: a write with a bad message, or whose configuration
// cannot be saved, changes nothing. The records of the jobs it starts
// are saved (or their failure shown) before it returns.
func (e *Engine) ExecJobs(ctx context.Context, text string) ([]int, error) {
	cmds, err := ctl.ParseText(text)
	if err != nil {
		return nil, err
	}
	return e.exec(cmds)
}

// exec carries out parsed messages: build the next configuration,
// save it, put it in force, start the jobs.
func (e *Engine) exec(cmds []ctl.Cmd) ([]int, error) {
	e.cfgMu.Lock()
	defer e.cfgMu.Unlock()
	e.mu.Lock()
	cur, closed := e.cfg, e.closed
	e.mu.Unlock()
	if closed {
		return nil, errShutdown
	}
	next, err := cur.apply(cmds)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	for _, c := range cmds {
		if v := verbs[c.Verb()]; v.check != nil {
			if err = v.check(e, c); err != nil {
				break
			}
		}
	}
	e.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if text := next.text(); text != cur.text() {
		if err := e.writeFile(e.configFile(), []byte(text)); err != nil {
			return nil, fmt.Errorf("save configuration: %w", err)
		}
	}
	fresh := e.newTargets(next)

	var starts []start
	var gone []string
	e.mu.Lock()
	e.swapLocked(next, fresh)
	closed = e.closed
	for _, c := range cmds {
		v := verbs[c.Verb()]
		if v.act != nil {
			v.act(e, c)
		}
		if v.run == nil {
			e.event("ctl %s", c)
			continue
		}
		if closed {
			continue
		}
		jcs := []ctl.Cmd{c}
		if v.split != nil {
			jcs = v.split(c)
		}
		for _, jc := range jcs {
			s, g := e.newJobLocked(jc, v.run)
			starts = append(starts, s)
			gone = append(gone, g...)
		}
	}
	e.mu.Unlock()
	for _, p := range gone {
		os.Remove(p)
	}
	var ids []int
	for _, s := range starts {
		e.save(s.j) // so a job cut short by a crash is still listed
		e.launch(s)
		ids = append(ids, s.j.id)
	}
	if closed && len(ids) == 0 && hasJobs(cmds) {
		return nil, errShutdown
	}
	return ids, nil
}

func hasJobs(cmds []ctl.Cmd) bool {
	for _, c := range cmds {
		if verbs[c.Verb()].run != nil {
			return true
		}
	}
	return false
}

// newTargets makes the targets cfg has that the engine lacks, or has
// at another address, with their cursors loaded; swapLocked puts them
// in. The caller holds cfgMu, so the engine's targets do not change
// meanwhile.
func (e *Engine) newTargets(cfg config) map[string]*target {
	e.mu.Lock()
	var want []ctl.Target
	for _, n := range cfg.targetNames() {
		tc := cfg.targets[n]
		if t, ok := e.targets[n]; !ok || t.addr != tc.Addr {
			want = append(want, tc)
		}
	}
	e.mu.Unlock()
	fresh := map[string]*target{}
	for _, tc := range want {
		for _, n := range cfg.targetNames() {
			if o := cfg.targets[n]; n != tc.Name && o.Addr == tc.Addr {
				e.event("warning: targets %s and %s have one address, %s: each keeps its own cursor, so the arenas are sent to it once for each", n, tc.Name, tc.Addr)
			}
		}
		t := newTarget(e.opts.StateDir, tc.Name, tc.Addr, false)
		e.loadCursor(t)
		fresh[tc.Name] = t
	}
	return fresh
}

// swapLocked puts cfg in force and brings the targets in line with
// it: those in fresh replace or join the others, each takes its rate,
// and those cfg lacks go; e.mu is held.
func (e *Engine) swapLocked(cfg config, fresh map[string]*target) {
	e.cfg = cfg
	for n, tc := range cfg.targets {
		if t, ok := fresh[n]; ok {
			e.targets[n] = t
		}
		e.targets[n].limit.setRate(tc.Rate)
		e.targets[n].setConns(tc.Conns)
	}
	for n := range e.targets {
		if _, ok := cfg.targets[n]; !ok {
			delete(e.targets, n)
		}
	}
}
