package ctl

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"replfs/venti"
)

const (
	usageFossil      = "fossil [-f] [-c console] [-h venti] [-l listen] [-n fsname] [-p program] partition | fossil -d"
	usageSnap        = "snap [-t seconds] [fsys]"
	usageFossilize   = "fossilize [partition]"
	usageFosreset    = "fosreset score [partition] [venti]"
	usageFossilstart = "fossilstart [-f] [partition] [name]"
	usageFoshalt     = "foshalt"
	usageCpsys       = "cpsys src dst"
)

// Fossil configures the fossil replfs snapshots, records and re-roots:
// its partition; the venti it archives to (a target name, "local" or a
// dial string; default local); on Plan 9 the console of a fossil
// already running; the program, listen address and srv name
// fossilstart uses; the name recorded with its root scores. Delete
// forgets it.
type Fossil struct {
	Partition string
	Program   string // -p: one of replfs's -F programs (absolute); "" means its first
	Venti     string // -h: "" means local
	Console   string // -c: a posted console file in /srv (Plan 9)
	Listen    string // -l: fossilstart's listen address
	Fsname    string // -n: the name recorded in rootscor
	UseConfig bool   // -f: fossilstart runs the partition's own config
	Delete    bool
}

func (Fossil) Verb() string { return "fossil" }
func (c Fossil) String() string {
	if c.Delete {
		return "fossil -d"
	}
	f := []string{"fossil"}
	if c.UseConfig {
		f = append(f, "-f")
	}
	for _, o := range []struct{ flag, v string }{
		{"-c", c.Console}, {"-h", c.Venti}, {"-l", c.Listen}, {"-n", c.Fsname}, {"-p", c.Program},
	} {
		if o.v != "" {
			f = append(f, o.flag, o.v)
		}
	}
	return join(append(f, c.Partition)...)
}

func parseFossil(args []string) (Cmd, error) {
	set, vals, args, err := flags(usageFossil, args, "df", "chlnp")
	if err != nil {
		return nil, err
	}
	if set['d'] {
		if len(args) != 0 || len(set) != 1 {
			return nil, usage(usageFossil)
		}
		return Fossil{Delete: true}, nil
	}
	if len(args) != 1 {
		return nil, usage(usageFossil)
	}
	c := Fossil{Partition: args[0], Program: vals['p'], Venti: vals['h'], Console: vals['c'],
		Listen: vals['l'], Fsname: vals['n'], UseConfig: set['f']}
	if err := checkPartition("fossil", c.Partition); err != nil {
		return nil, err
	}
	if c.Venti != "" {
		if err := checkEndpoint("fossil", c.Venti); err != nil {
			return nil, err
		}
	}
	if c.Listen != "" {
		if err := venti.CheckAnnounce(c.Listen, "9fs"); err != nil {
			return nil, fmt.Errorf("fossil: -l: %w", err)
		}
	}
	// The program is only chosen here among those replfs was started
	// with (the engine checks); the console is a posted file, not any
	// file fossil's commands could be written into.
	if c.Program != "" && (!printable(c.Program) || !strings.HasPrefix(c.Program, "/")) {
		return nil, fmt.Errorf("fossil: program %s is not an absolute path", Clip(c.Program))
	}
	if c.Console != "" && (!printable(c.Console) || path.Dir(path.Clean(c.Console)) != "/srv" || path.Clean(c.Console) != c.Console) {
		return nil, fmt.Errorf("fossil: console %s is not a file in /srv", Clip(c.Console))
	}
	if c.Fsname != "" && (!printable(c.Fsname) || strings.ContainsAny(c.Fsname, "'")) {
		return nil, fmt.Errorf("fossil: bad fsname %s", Clip(c.Fsname))
	}
	return c, nil
}

// checkPartition refuses what cannot be a partition: nothing, blanks or
// control characters (it goes into fossil's console commands), or a
// dial string (the original scripts' arguments in the wrong order).
func checkPartition(verb, p string) error {
	if p == "" || !printable(p) {
		return fmt.Errorf("%s: bad partition %s", verb, Clip(p))
	}
	if strings.Contains(p, "!") {
		return fmt.Errorf("%s: partition %s looks like a network address", verb, Clip(p))
	}
	return nil
}

// Snap snapshots the fossil to its venti (fsys FSYS snap -a), waits
// until the archive is finished, syncs, and records the root score.
type Snap struct {
	Fsys    string // "" means main
	Timeout int    // seconds; 0 means the default
}

func (Snap) Verb() string { return "snap" }
func (c Snap) String() string {
	f := []string{"snap"}
	if c.Timeout > 0 {
		f = append(f, "-t", strconv.Itoa(c.Timeout))
	}
	if c.Fsys != "" {
		f = append(f, c.Fsys)
	}
	return join(f...)
}

func parseSnap(args []string) (Cmd, error) {
	set, vals, args, err := flags(usageSnap, args, "", "t")
	if err != nil {
		return nil, err
	}
	if len(args) > 1 {
		return nil, usage(usageSnap)
	}
	var c Snap
	if set['t'] {
		if c.Timeout, err = strconv.Atoi(vals['t']); err != nil || c.Timeout <= 0 {
			return nil, fmt.Errorf("snap: bad timeout %s", Clip(vals['t']))
		}
	}
	if len(args) == 1 {
		c.Fsys = args[0]
		if !printable(c.Fsys) || strings.ContainsAny(c.Fsys, "'\"!:/") || c.Fsys == "all" {
			return nil, fmt.Errorf("snap: bad fsys %s", Clip(c.Fsys))
		}
	}
	return c, nil
}

// Fossilize records the last archive of a fossil partition (default:
// the configured one) in the root score log.
type Fossilize struct{ Partition string }

func (Fossilize) Verb() string { return "fossilize" }
func (c Fossilize) String() string {
	if c.Partition == "" {
		return "fossilize"
	}
	return join("fossilize", c.Partition)
}

func parseFossilize(args []string) (Cmd, error) {
	if len(args) > 1 {
		return nil, usage(usageFossilize)
	}
	var c Fossilize
	if len(args) == 1 {
		c.Partition = args[0]
		if err := checkPartition("fossilize", c.Partition); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Fosreset re-roots a fossil partition (default: the configured one) on
// an archive, as flfmt -v does, halting and restarting the fossil
// replfs runs on it. Venti is where the archive's blocks are: a target
// name, "local" or a dial string (default: the fossil's venti).
type Fosreset struct {
	Score     venti.Score
	Partition string
	Venti     string
}

func (Fosreset) Verb() string { return "fosreset" }
func (c Fosreset) String() string {
	f := []string{"fosreset", "vac:" + c.Score.String()}
	if c.Partition != "" {
		f = append(f, c.Partition)
		if c.Venti != "" {
			f = append(f, c.Venti)
		}
	}
	return join(f...)
}

func parseFosreset(args []string) (Cmd, error) {
	if len(args) < 1 || len(args) > 3 {
		return nil, usage(usageFosreset)
	}
	var c Fosreset
	label, s, err := venti.ParseLabeledScore(args[0])
	if err != nil || (label != "" && label != "vac") {
		return nil, fmt.Errorf("fosreset: bad score %s", Clip(args[0]))
	}
	c.Score = s
	if s == venti.ZeroScore {
		return nil, fmt.Errorf("fosreset: %s is the zero score: no archive", args[0])
	}
	if len(args) > 1 {
		c.Partition = args[1]
		if err := checkPartition("fosreset", c.Partition); err != nil {
			return nil, err
		}
	}
	if len(args) > 2 {
		c.Venti = args[2]
		if err := checkEndpoint("fosreset", c.Venti); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Fossilstart starts a fossil on a partition (default: the configured
// one) with the ANTS fossilstart's settings, or with UseConfig the
// partition's own configuration. Name is its srv name.
type Fossilstart struct {
	UseConfig bool
	Partition string
	Name      string
}

func (Fossilstart) Verb() string { return "fossilstart" }
func (c Fossilstart) String() string {
	f := []string{"fossilstart"}
	if c.UseConfig {
		f = append(f, "-f")
	}
	if c.Partition != "" {
		f = append(f, c.Partition)
		if c.Name != "" {
			f = append(f, c.Name)
		}
	}
	return join(f...)
}

func parseFossilstart(args []string) (Cmd, error) {
	set, _, args, err := flags(usageFossilstart, args, "f", "")
	if err != nil {
		return nil, err
	}
	if len(args) > 2 {
		return nil, usage(usageFossilstart)
	}
	c := Fossilstart{UseConfig: set['f']}
	if len(args) > 0 {
		c.Partition = args[0]
		if err := checkPartition("fossilstart", c.Partition); err != nil {
			return nil, err
		}
	}
	if len(args) > 1 {
		c.Name = args[1]
		if !printable(c.Name) || strings.ContainsAny(c.Name, "'/!") {
			return nil, fmt.Errorf("fossilstart: bad name %s", Clip(c.Name))
		}
	}
	return c, nil
}

// Foshalt syncs and halts the configured fossil, then ends it.
type Foshalt struct{}

func (Foshalt) Verb() string   { return "foshalt" }
func (Foshalt) String() string { return "foshalt" }

func parseFoshalt(args []string) (Cmd, error) {
	if len(args) != 0 {
		return nil, usage(usageFoshalt)
	}
	return Foshalt{}, nil
}

// Cpsys re-roots the fossil of the replfs at Dst on the last archive of
// the fossil of the replfs at Src. Both are 9P addresses.
type Cpsys struct{ Src, Dst string }

func (Cpsys) Verb() string     { return "cpsys" }
func (c Cpsys) String() string { return join("cpsys", c.Src, c.Dst) }

func parseCpsys(args []string) (Cmd, error) {
	if len(args) != 2 {
		return nil, usage(usageCpsys)
	}
	for _, a := range args {
		// tls!host!port is a pinned peer (package peer); the rest is
		// an ordinary dial string.
		if rest, ok := strings.CutPrefix(a, "tls!"); ok {
			if err := checkAddr("tcp!"+rest, "9fs"); err != nil {
				return nil, fmt.Errorf("cpsys: bad address %s", Clip(a))
			}
			continue
		}
		if err := checkAddr(a, "9fs"); err != nil {
			return nil, fmt.Errorf("cpsys: %w", err)
		}
	}
	return Cpsys{Src: args[0], Dst: args[1]}, nil
}
