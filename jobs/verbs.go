package jobs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"replfs/ctl"
)

// A verb is what the engine does with one kind of control message
// that ctl has parsed. A new verb is an entry in ctl.Verbs and one
// here.
type verb struct {
	// refs returns the ventis a message names: target names, "local",
	// dial strings, other trickle sources. config.apply refuses a name
	// that could be a target's but is none.
	refs func(ctl.Cmd) []string
	// config, for a configuration message, changes the configuration
	// apply is building.
	config func(*config, ctl.Cmd) error
	// check refuses a message the engine cannot carry out now; act
	// carries it out once the write is accepted. Both with e.mu held.
	check func(*Engine, ctl.Cmd) error
	act   func(*Engine, ctl.Cmd)
	// run runs a job of the message. split, if set, returns the
	// commands of the jobs one message starts (trickle: one for each
	// pair); else the message is one job's command. repeats says a
	// job's command runs until it is cancelled, so that one ended by
	// replfs stopping is started again when replfs starts.
	run     func(*Engine, context.Context, *job, ctl.Cmd) error
	split   func(ctl.Cmd) []ctl.Cmd
	repeats func(ctl.Cmd) bool
}

// verbs is the table, by ctl's verb names.
var verbs = map[string]verb{
	"target": {config: configOf((*config).target)},
	"source": {config: configOf((*config).setSource)},
	"fossil": {refs: refsOf(func(c ctl.Fossil) []string { return []string{c.Venti} }), config: configOf((*config).setFossil), check: checkOf(checkFossil)},
	"set":    {config: configOf((*config).setting)},
	"cancel": {check: checkOf(checkCancel), act: actOf(cancel)},

	"ventiprog": {refs: refsOf(func(c ctl.Ventiprog) []string { return c.Targets }), run: runOf((*Engine).ventiprogJob)},
	"copy":      {refs: refsOf(func(c ctl.Copy) []string { return []string{c.Src, c.Dst} }), run: runOf((*Engine).copyTrees)},
	"verify":    {refs: refsOf(func(c ctl.Verify) []string { return []string{c.Target} }), run: runOf((*Engine).verifyTrees)},
	"rootscor": {refs: refsOf(func(c ctl.Rootscor) []string { return []string{c.Venti} }), config: configOf((*config).setLogFile),
		check: checkOf(checkLogFile), run: runOf((*Engine).recoverLog), split: splitRootscor},
	"snap":        {run: runOf((*Engine).snap)},
	"fossilize":   {run: runOf((*Engine).fossilize)},
	"fosreset":    {refs: refsOf(func(c ctl.Fosreset) []string { return []string{c.Venti} }), run: runOf((*Engine).fosreset)},
	"fossilstart": {run: runOf((*Engine).fossilstart)},
	"foshalt":     {run: runOf((*Engine).foshalt)},
	"cpsys":       {run: runOf((*Engine).cpsys)},
	"trickle": {refs: refsOf(trickleRefs), run: runOf((*Engine).trickleJob),
		split: splitOf(trickleSplit), repeats: repeatsOf(trickleRepeats)},
}

// splitRootscor: rootscor -r is a job, -f and -d configuration only.
func splitRootscor(c ctl.Cmd) []ctl.Cmd {
	if c.(ctl.Rootscor).Config() {
		return nil
	}
	return []ctl.Cmd{c}
}

// checkLogFile refuses, for rootscor -f, a file replfs must not append
// to: one that exists and is not a regular file, one in a directory
// that does not exist, and any file replfs itself uses.
func checkLogFile(e *Engine, c ctl.Rootscor) error {
	if c.File == "" {
		return nil
	}
	if st, err := os.Stat(c.File); err == nil {
		if !st.Mode().IsRegular() {
			return fmt.Errorf("rootscor: %s: not a regular file", ctl.Clip(c.File))
		}
		if err := e.ownFileLocked(c.File); err != nil {
			return fmt.Errorf("rootscor: %w", err)
		}
	} else if st, err := os.Stat(filepath.Dir(c.File)); err != nil || !st.IsDir() {
		return fmt.Errorf("rootscor: %s: no such directory", ctl.Clip(filepath.Dir(c.File)))
	}
	return nil
}

// checkFossil refuses a fossil program replfs was not started with.
func checkFossil(e *Engine, c ctl.Fossil) error {
	if err := e.checkProgram(c.Program); err != nil {
		return fmt.Errorf("fossil: %w", err)
	}
	return nil
}

func checkCancel(e *Engine, c ctl.Cancel) error {
	if e.findJob(c.Job) == nil {
		return fmt.Errorf("no job %d", c.Job)
	}
	return nil
}

func cancel(e *Engine, c ctl.Cancel) {
	if j := e.findJob(c.Job); j != nil {
		j.requestStop(errCancelled)
	}
}

// ventiprogJob is ventiprog, or with -q quick.
func (e *Engine) ventiprogJob(ctx context.Context, j *job, c ctl.Ventiprog) error {
	if c.Quick {
		return e.quick(ctx, j, c)
	}
	return e.ventiprog(ctx, j, c)
}

func trickleRefs(c ctl.Trickle) []string {
	var names []string
	for _, p := range c.Pairs {
		names = append(names, p.Src, p.Dst)
	}
	return names
}

// trickleSplit makes each pair a job of its own.
func trickleSplit(c ctl.Trickle) []ctl.Cmd {
	var cmds []ctl.Cmd
	for _, p := range c.Pairs {
		cmds = append(cmds, ctl.Trickle{Pairs: []ctl.Pair{p}})
	}
	return cmds
}

func trickleRepeats(c ctl.Trickle) bool { return len(c.Pairs) == 1 && c.Pairs[0].Repeat }

// trickleJob runs a trickle job: one pair.
func (e *Engine) trickleJob(ctx context.Context, j *job, c ctl.Trickle) error {
	if len(c.Pairs) != 1 {
		return fmt.Errorf("trickle: %d pairs in one job", len(c.Pairs))
	}
	return e.trickle(ctx, j, c.Pairs[0])
}

// The adapters from a function of one message type to the table's.
// ctl.Parse makes each verb's messages of one type, so the assertions
// hold.

func refsOf[C ctl.Cmd](f func(C) []string) func(ctl.Cmd) []string {
	return func(c ctl.Cmd) []string { return f(c.(C)) }
}

func configOf[C ctl.Cmd](f func(*config, C) error) func(*config, ctl.Cmd) error {
	return func(cfg *config, c ctl.Cmd) error { return f(cfg, c.(C)) }
}

func checkOf[C ctl.Cmd](f func(*Engine, C) error) func(*Engine, ctl.Cmd) error {
	return func(e *Engine, c ctl.Cmd) error { return f(e, c.(C)) }
}

func actOf[C ctl.Cmd](f func(*Engine, C)) func(*Engine, ctl.Cmd) {
	return func(e *Engine, c ctl.Cmd) { f(e, c.(C)) }
}

func runOf[C ctl.Cmd](f func(*Engine, context.Context, *job, C) error) func(*Engine, context.Context, *job, ctl.Cmd) error {
	return func(e *Engine, ctx context.Context, j *job, c ctl.Cmd) error { return f(e, ctx, j, c.(C)) }
}

func splitOf[C ctl.Cmd](f func(C) []ctl.Cmd) func(ctl.Cmd) []ctl.Cmd {
	return func(c ctl.Cmd) []ctl.Cmd { return f(c.(C)) }
}

func repeatsOf[C ctl.Cmd](f func(C) bool) func(ctl.Cmd) bool {
	return func(c ctl.Cmd) bool { return f(c.(C)) }
}
