package jobs

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"replfs/ctl"
	"replfs/venti/bucket"
)

// A config is replfs's configuration: the source venti, the fossil,
// the targets and trickle's settings, as statedir/config keeps them
// and /ctl shows them. It is a value: apply builds a new one and never
// changes its receiver, so the engine replaces the one in force whole,
// once the next is saved.
type config struct {
	source  *ctl.Source           // nil: the embedded venti
	fossil  *ctl.Fossil           // nil: none
	targets map[string]ctl.Target // by name; not changed once built
	set     settings
	logFile string // rootscor -f: the seed scripts' copy of the log; "": none
}

// settings are trickle's controls, as set sets them.
type settings struct {
	maxRetries          int
	retrySeconds        int
	repeatSeconds       int
	secondsBetweenMoves int
}

// field returns the setting ctl's set calls name; nil if none.
func (s *settings) field(name string) *int {
	switch name {
	case "maxretries":
		return &s.maxRetries
	case "retryseconds":
		return &s.retrySeconds
	case "repeatseconds":
		return &s.repeatSeconds
	case "secondsbetweenmoves":
		return &s.secondsBetweenMoves
	}
	return nil
}

// newConfig returns the configuration of a new state directory: no
// source, fossil or targets, and the settings' defaults.
func newConfig() config {
	c := config{targets: map[string]ctl.Target{}}
	for _, d := range ctl.Settings {
		*c.set.field(d.Name) = d.Value
	}
	return c
}

// parse reads a configuration file's text: configuration messages,
// as text writes them.
func parse(text string) (config, error) {
	c := newConfig()
	if strings.TrimSpace(text) == "" {
		return c, nil
	}
	cmds, err := ctl.ParseText(text)
	if err != nil {
		return config{}, err
	}
	for _, cmd := range cmds {
		if verbs[cmd.Verb()].config == nil {
			return config{}, fmt.Errorf("%s is not a configuration message", cmd.Verb())
		}
	}
	return c.apply(cmds)
}

// parseSaved is parse for the saved file at start: a line that does not
// parse, is not configuration, or does not apply to what the lines
// before it made is reported and skipped, so one bad line (hand-edited,
// or saved by an older replfs that checked less) never keeps replfs
// from starting.
func parseSaved(text string) (config, []error) {
	c := newConfig()
	cmds, errs := ctl.ParseSaved(text)
	for _, cmd := range cmds {
		if verbs[cmd.Verb()].config == nil {
			errs = append(errs, fmt.Errorf("%s is not a configuration message", cmd.Verb()))
			continue
		}
		n, err := c.apply([]ctl.Cmd{cmd})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c = n
	}
	return c, errs
}

// apply returns the configuration the messages of one write make of c,
// checking them in order against what the earlier ones leave: a
// message that names a target that is not there, or removes one, fails
// the whole. Messages that do work only have their names checked.
func (c config) apply(cmds []ctl.Cmd) (config, error) {
	n := c
	n.targets = maps.Clone(c.targets)
	for _, cmd := range cmds {
		v, ok := verbs[cmd.Verb()]
		if !ok {
			return config{}, fmt.Errorf("%s: not implemented", cmd.Verb())
		}
		if v.refs != nil {
			for _, name := range v.refs(cmd) {
				if err := n.check(name); err != nil {
					return config{}, err
				}
			}
		}
		if v.config != nil {
			if err := v.config(&n, cmd); err != nil {
				return config{}, err
			}
		}
	}
	return n, nil
}

// check refuses a venti name that is a target's name but no target's:
// "local", dial strings and trickle's other sources pass.
func (c config) check(name string) error {
	if name == ctl.Local || ctl.CheckName(name) != nil {
		return nil
	}
	if _, ok := c.targets[name]; !ok {
		return fmt.Errorf("no target %s", name)
	}
	return nil
}

// The configuration messages, applied to apply's own copy.

func (c *config) target(t ctl.Target) error {
	if t.Delete {
		if _, ok := c.targets[t.Name]; !ok {
			return fmt.Errorf("no target %s", t.Name)
		}
		delete(c.targets, t.Name)
		return nil
	}
	if bucket.IsURL(t.Addr) {
		if _, err := bucket.ParseURL(t.Addr); err != nil {
			return fmt.Errorf("target: %w", err)
		}
	}
	c.targets[t.Name] = ctl.Target{Name: t.Name, Addr: t.Addr, Rate: t.Rate, Conns: t.Conns}
	return nil
}

func (c *config) setSource(s ctl.Source) error {
	c.source = nil
	if !s.Delete {
		s.Partitions = slices.Clone(s.Partitions)
		c.source = &s
	}
	return nil
}

func (c *config) setFossil(f ctl.Fossil) error {
	c.fossil = nil
	if !f.Delete {
		c.fossil = &f
	}
	return nil
}

func (c *config) setLogFile(r ctl.Rootscor) error {
	switch {
	case r.Delete:
		c.logFile = ""
	case r.File != "":
		c.logFile = r.File
	}
	return nil // -r: a job, no configuration
}

func (c *config) setting(s ctl.Set) error {
	p := c.set.field(s.Name)
	if p == nil {
		return fmt.Errorf("set: unknown setting %q", s.Name)
	}
	*p = s.Value
	return nil
}

// text returns the configuration as control messages that recreate
// it: the source, the fossil, the targets by name, and the settings
// that are not their defaults.
func (c config) text() string {
	var b strings.Builder
	if c.source != nil {
		b.WriteString(c.source.String() + "\n")
	}
	if c.fossil != nil {
		b.WriteString(c.fossil.String() + "\n")
	}
	for _, n := range c.targetNames() {
		b.WriteString(c.targets[n].String() + "\n")
	}
	for _, d := range ctl.Settings {
		if v := *c.set.field(d.Name); v != d.Value {
			b.WriteString(ctl.Set{Name: d.Name, Value: v}.String() + "\n")
		}
	}
	if c.logFile != "" {
		b.WriteString(ctl.Rootscor{File: c.logFile}.String() + "\n")
	}
	return b.String()
}

func (c config) targetNames() []string {
	return slices.Sorted(maps.Keys(c.targets))
}

// ConfiguredSource reports whether the state directory's configuration
// names a source venti; without one replfs runs its own.
func ConfiguredSource(stateDir string) (bool, error) {
	path := filepath.Join(stateDir, "config")
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	c, _ := parseSaved(string(b)) // New reports the bad lines
	return c.source != nil, nil
}
