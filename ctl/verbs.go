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
	{"copy", usageCopy, parseCopy},
	{"verify", usageVerify, parseVerify},
	{"fossil", usageFossil, parseFossil},
	{"snap", usageSnap, parseSnap},
	{"fossilize", usageFossilize, parseFossilize},
	{"fosreset", usageFosreset, parseFosreset},
	{"fossilstart", usageFossilstart, parseFossilstart},
	{"foshalt", usageFoshalt, parseFoshalt},
	{"cpsys", usageCpsys, parseCpsys},
	{"trickle", usageTrickle, parseTrickle},
	{"set", usageSet, parseSet},
	{"rootscor", usageRootscor, parseRootscor},
}

const (
	usageTarget    = "target [-r rate] [-c conns] name addr | target -d name"
	usageSource    = "source [-H httpaddr] addr partition... | source -d"
	usageVentiprog = "ventiprog [-nq] [target ...]"
	usageCopy      = "copy [-f] [-w window] src dst score..."
	usageVerify    = "verify [-r] target [score...]"
	usageCancel    = "cancel job"
	usageRootscor  = "rootscor -r venti [score] | rootscor -f file | rootscor -d"
)

// Local is the name of the source venti, embedded or configured.
const Local = "local"

// FossilSource, as a trickle source, is the configured fossil: each run
// snapshots it (snap) and then copies the source's arenas.
const FossilSource = "fossil"

// Target adds (or with Delete removes) a named target venti.
type Target struct {
	Name   string
	Addr   string
	Rate   int64 // bytes a second; 0: no limit
	Conns  int   // connections; 0: as many as the window needs, up to 32
	Delete bool
}

// MaxConns bounds target -c.
const MaxConns = 64

func (Target) Verb() string { return "target" }
func (c Target) String() string {
	if c.Delete {
		return join("target", "-d", c.Name)
	}
	w := []string{"target"}
	if c.Rate > 0 {
		w = append(w, "-r", FormatRate(c.Rate))
	}
	if c.Conns > 0 {
		w = append(w, "-c", strconv.Itoa(c.Conns))
	}
	return join(append(w, c.Name, c.Addr)...)
}

// CheckName checks a target name: a single file name in /targets, not
// "local" or "fossil", of printable characters without blanks, quotes,
// parentheses or '#', and never like a dial string (no '!' or ':').
func CheckName(name string) error {
	if name == "" || name == "." || name == ".." || name == Local || name == FossilSource || len(name) > 64 ||
		!printable(name) || strings.ContainsAny(name, "/'()#!:") {
		return fmt.Errorf("bad target name %s", Clip(name))
	}
	return nil
}

func parseTarget(args []string) (Cmd, error) {
	set, vals, args, err := flags(usageTarget, args, "d", "rc")
	if err != nil {
		return nil, err
	}
	if set['d'] {
		if len(args) != 1 || set['r'] || set['c'] {
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
	if err := checkTargetAddr(args[1]); err != nil {
		return nil, err
	}
	var rate int64
	if set['r'] {
		if rate, err = ParseRate(vals['r']); err != nil {
			return nil, fmt.Errorf("target: %v", err)
		}
	}
	var conns int
	if set['c'] {
		if conns, err = strconv.Atoi(vals['c']); err != nil || conns < 1 || conns > MaxConns {
			return nil, fmt.Errorf("target: bad connection count %s (1 to %d)", Clip(vals['c']), MaxConns)
		}
	}
	return Target{Name: args[0], Addr: args[1], Rate: rate, Conns: conns}, nil
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
	if err := checkAddr(args[0], "venti"); err != nil {
		return nil, err
	}
	if h := vals['H']; h != "" {
		if err := checkAddr(h, "http"); err != nil {
			return nil, err
		}
		if strings.HasPrefix(h, "unix!") {
			return nil, fmt.Errorf("source: bad http address %s", Clip(h))
		}
	}
	for _, p := range args[1:] {
		if err := checkPartition("source", p); err != nil {
			return nil, err
		}
	}
	return Source{Addr: args[0], HTTP: vals['H'], Partitions: args[1:]}, nil
}

// Ventiprog copies new arena data to targets (names or dial strings;
// none means all). Quick copies only the trees of the recorded roots.
type Ventiprog struct {
	DryRun  bool
	Quick   bool
	Targets []string
}

func (Ventiprog) Verb() string { return "ventiprog" }
func (c Ventiprog) String() string {
	f := []string{"ventiprog"}
	if c.DryRun {
		f = append(f, "-n")
	}
	if c.Quick {
		f = append(f, "-q")
	}
	return join(append(f, c.Targets...)...)
}

func parseVentiprog(args []string) (Cmd, error) {
	set, _, args, err := flags(usageVentiprog, args, "nq", "")
	if err != nil {
		return nil, err
	}
	for _, a := range args {
		if CheckName(a) != nil {
			if err := checkTargetAddr(a); err != nil {
				return nil, fmt.Errorf("ventiprog: %w", err)
			}
		}
	}
	if len(args) == 0 {
		args = nil
	}
	return Ventiprog{DryRun: set['n'], Quick: set['q'], Targets: args}, nil
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

// Copy copies the trees under root scores from one venti to another.
// Src and Dst are target names, "local", or dial strings.
type Copy struct {
	Fast   bool
	Window int // 0: the default
	Src    string
	Dst    string
	Scores []venti.Score
}

func (Copy) Verb() string { return "copy" }
func (c Copy) String() string {
	f := []string{"copy"}
	if c.Fast {
		f = append(f, "-f")
	}
	if c.Window > 0 {
		f = append(f, "-w", strconv.Itoa(c.Window))
	}
	f = append(f, c.Src, c.Dst)
	for _, s := range c.Scores {
		f = append(f, "vac:"+s.String())
	}
	return join(f...)
}

func parseCopy(args []string) (Cmd, error) {
	set, vals, args, err := flags(usageCopy, args, "f", "w")
	if err != nil {
		return nil, err
	}
	if len(args) < 3 {
		return nil, usage(usageCopy)
	}
	c := Copy{Fast: set['f'], Src: args[0], Dst: args[1]}
	if set['w'] {
		if c.Window, err = strconv.Atoi(vals['w']); err != nil || c.Window <= 0 || c.Window > 256 {
			return nil, fmt.Errorf("copy: bad window %s", Clip(vals['w']))
		}
	}
	for _, e := range []string{c.Src, c.Dst} {
		if err := checkEndpoint("copy", e); err != nil {
			return nil, err
		}
	}
	if c.Scores, err = parseScores("copy", args[2:]); err != nil {
		return nil, err
	}
	return c, nil
}

// Verify checks that a venti holds whole trees: the given roots, or with
// none every root in the root score log.
type Verify struct {
	ReadAll bool
	Target  string
	Scores  []venti.Score
}

func (Verify) Verb() string { return "verify" }
func (c Verify) String() string {
	f := []string{"verify"}
	if c.ReadAll {
		f = append(f, "-r")
	}
	f = append(f, c.Target)
	for _, s := range c.Scores {
		f = append(f, "vac:"+s.String())
	}
	return join(f...)
}

func parseVerify(args []string) (Cmd, error) {
	set, _, args, err := flags(usageVerify, args, "r", "")
	if err != nil {
		return nil, err
	}
	if len(args) < 1 {
		return nil, usage(usageVerify)
	}
	if err := checkEndpoint("verify", args[0]); err != nil {
		return nil, err
	}
	c := Verify{ReadAll: set['r'], Target: args[0]}
	if c.Scores, err = parseScores("verify", args[1:]); err != nil {
		return nil, err
	}
	return c, nil
}

// checkAddr checks the dial string of a peer replfs dials (see
// venti.CheckDial: a port, a host, a unix path only of a socket).
func checkAddr(s, service string) error {
	return venti.CheckDial(s, service)
}

// checkTargetAddr accepts a venti's dial string or an object store's
// s3://bucket/prefix URL, whose parts the engine checks (it knows the
// object store's rules); here it must be one printable word.
func checkTargetAddr(s string) error {
	if !strings.HasPrefix(s, "s3://") {
		return checkAddr(s, "venti")
	}
	if len(s) > 1024 {
		return fmt.Errorf("bad address %s: too long", Clip(s))
	}
	for _, r := range s {
		if r <= ' ' || r >= 0x7f {
			return fmt.Errorf("bad address %s", Clip(s))
		}
	}
	return nil
}

// checkEndpoint accepts a target name, "local", or a dial string.
func checkEndpoint(verb, s string) error {
	if s == Local || CheckName(s) == nil {
		return nil
	}
	if err := checkTargetAddr(s); err != nil {
		return fmt.Errorf("%s: %w", verb, err)
	}
	return nil
}

func parseScores(verb string, args []string) ([]venti.Score, error) {
	var out []venti.Score
	for _, a := range args {
		s, err := venti.ParseScore(a)
		if err != nil {
			return nil, fmt.Errorf("%s: bad score %s", verb, Clip(a))
		}
		out = append(out, s)
	}
	return out, nil
}

// Rootscor -r recovers the root score log a venti holds (written there
// by replfs after a copy): the one under Score, or with none the one
// the target was last given, and merges it into the local log. With -f
// it is configuration: File is a second log, in the seed scripts'
// format, that each record is also appended to (-d: none).
type Rootscor struct {
	Venti  string // -r: a target name, "local" or a dial string
	Score  venti.Score
	Given  bool   // Score was given
	File   string // -f: the conventional copy; "" with Delete
	Delete bool
}

func (Rootscor) Verb() string { return "rootscor" }
func (c Rootscor) String() string {
	switch {
	case c.Delete:
		return join("rootscor", "-d")
	case c.File != "":
		return join("rootscor", "-f", c.File)
	case c.Given:
		return join("rootscor", "-r", c.Venti, "vac:"+c.Score.String())
	}
	return join("rootscor", "-r", c.Venti)
}

// Config reports whether c changes the configuration (-f, -d) rather
// than starting a job (-r).
func (c Rootscor) Config() bool { return c.File != "" || c.Delete }

func parseRootscor(args []string) (Cmd, error) {
	set, vals, args, err := flags(usageRootscor, args, "rd", "f")
	if err != nil {
		return nil, err
	}
	n := 0
	for _, f := range []byte("rdf") {
		if set[f] {
			n++
		}
	}
	if n != 1 {
		return nil, usage(usageRootscor)
	}
	switch {
	case set['d']:
		if len(args) != 0 {
			return nil, usage(usageRootscor)
		}
		return Rootscor{Delete: true}, nil
	case set['f']:
		f := vals['f']
		if len(args) != 0 || !strings.HasPrefix(f, "/") || !printable(f) {
			return nil, fmt.Errorf("rootscor: bad file %s: want an absolute name", Clip(f))
		}
		return Rootscor{File: f}, nil
	}
	if len(args) < 1 || len(args) > 2 {
		return nil, usage(usageRootscor)
	}
	if err := checkEndpoint("rootscor", args[0]); err != nil {
		return nil, err
	}
	c := Rootscor{Venti: args[0]}
	if len(args) == 2 {
		sc, err := parseScores("rootscor", args[1:])
		if err != nil {
			return nil, err
		}
		c.Score, c.Given = sc[0], true
	}
	return c, nil
}
