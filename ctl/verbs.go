package ctl

import (
	"fmt"
	"strconv"
	"strings"

	"replfs/venti"
)

// Verbs is the command table: every control message replfs accepts.
// docs/replfs.4 documents each; a test checks that.
var Verbs = []Verb{
	{"target", usageTarget, parseTarget},
	{"source", usageSource, parseSource},
	{"ventiprog", usageVentiprog, parseVentiprog},
	{"cancel", usageCancel, parseCancel},
}

const (
	usageTarget    = "target name addr | target -d name"
	usageSource    = "source [-H httpaddr] addr partition... | source -d"
	usageVentiprog = "ventiprog [-n] [target ...]"
	usageCancel    = "cancel job"
)

// Local is the name of the source venti, embedded or configured.
const Local = "local"

// Target adds (or with Delete removes) a named target venti.
type Target struct {
	Name   string
	Addr   string
	Delete bool
}

func (Target) Verb() string { return "target" }
func (c Target) String() string {
	if c.Delete {
		return join("target", "-d", c.Name)
	}
	return join("target", c.Name, c.Addr)
}

// CheckName checks a target name: a single file name in /targets, not
// "local", without blanks, and never like a dial string (no '!' or ':').
func CheckName(name string) error {
	if name == "" || name == "." || name == ".." || name == Local || len(name) > 64 ||
		strings.ContainsAny(name, "/ \t\n'()#!:") {
		return fmt.Errorf("bad target name %q", name)
	}
	return nil
}

func parseTarget(args []string) (Cmd, error) {
	set, _, args, err := flags(usageTarget, args, "d", "")
	if err != nil {
		return nil, err
	}
	if set['d'] {
		if len(args) != 1 {
			return nil, usage(usageTarget)
		}
		return Target{Name: args[0], Delete: true}, nil
	}
	if len(args) != 2 {
		return nil, usage(usageTarget)
	}
	if err := CheckName(args[0]); err != nil {
		return nil, err
	}
	if _, _, err := venti.ParseDialString(args[1], "venti"); err != nil {
		return nil, err
	}
	return Target{Name: args[0], Addr: args[1]}, nil
}

// Source configures the source venti: its address, its arena
// partitions (read directly) and its HTTP address for flushing. Delete
// returns to the embedded venti.
type Source struct {
	Addr       string
	HTTP       string
	Partitions []string
	Delete     bool
}

func (Source) Verb() string { return "source" }
func (c Source) String() string {
	if c.Delete {
		return "source -d"
	}
	f := []string{"source"}
	if c.HTTP != "" {
		f = append(f, "-H", c.HTTP)
	}
	return join(append(append(f, c.Addr), c.Partitions...)...)
}

func parseSource(args []string) (Cmd, error) {
	set, vals, args, err := flags(usageSource, args, "d", "H")
	if err != nil {
		return nil, err
	}
	if set['d'] {
		if len(args) != 0 || set['H'] {
			return nil, usage(usageSource)
		}
		return Source{Delete: true}, nil
	}
	if len(args) < 2 {
		return nil, usage(usageSource)
	}
	if _, _, err := venti.ParseDialString(args[0], "venti"); err != nil {
		return nil, err
	}
	if h := vals['H']; h != "" {
		if _, _, err := venti.ParseDialString(h, "http"); err != nil {
			return nil, err
		}
	}
	return Source{Addr: args[0], HTTP: vals['H'], Partitions: args[1:]}, nil
}

// Ventiprog copies new arena data to targets (names or dial strings;
// none means all).
type Ventiprog struct {
	DryRun  bool
	Targets []string
}

func (Ventiprog) Verb() string { return "ventiprog" }
func (c Ventiprog) String() string {
	f := []string{"ventiprog"}
	if c.DryRun {
		f = append(f, "-n")
	}
	return join(append(f, c.Targets...)...)
}

func parseVentiprog(args []string) (Cmd, error) {
	set, _, args, err := flags(usageVentiprog, args, "n", "")
	if err != nil {
		return nil, err
	}
	for _, a := range args {
		if CheckName(a) != nil {
			if _, _, err := venti.ParseDialString(a, "venti"); err != nil {
				return nil, fmt.Errorf("ventiprog: bad target %q", a)
			}
		}
	}
	if len(args) == 0 {
		args = nil
	}
	return Ventiprog{DryRun: set['n'], Targets: args}, nil
}

// Cancel stops a job.
type Cancel struct{ Job int }

func (Cancel) Verb() string     { return "cancel" }
func (c Cancel) String() string { return "cancel " + strconv.Itoa(c.Job) }

func parseCancel(args []string) (Cmd, error) {
	if len(args) != 1 {
		return nil, usage(usageCancel)
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n <= 0 {
		return nil, usage(usageCancel)
	}
	return Cancel{Job: n}, nil
}
