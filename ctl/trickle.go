package ctl

import (
	"fmt"
	"strconv"
	"strings"

	"replfs/venti"
)

const (
	usageTrickle = "trickle [-cDRVQ] [(time1 .. time2)] {src dst}..."
	usageSet     = "set maxretries|retryseconds|repeatseconds|secondsbetweenmoves n"
)

// A Pair is one source and destination of a trickle line, with the
// switches in force when its destination was read.
type Pair struct {
	Src    string // "local", "fossil", "vac:score", a target name or dial string
	Dst    string // a target name or dial string
	Debug  bool   // -D: do everything but transfer; report what would move
	Verify bool   // -V: transfer nothing; report what is missing
	Quick  bool   // -Q: move only what the recorded roots reach
	Repeat bool   // -R: again every repeatseconds, until cancelled
	Window *Window
}

// Trickle keeps destinations refreshed from sources, as Cedar's
// TrickleChargeServer did: trickle [switches] {src dst}*. Switches are
// cumulative from left to right and each pair takes those in force at
// its destination: -D, -V, -Q and -R turn debug, verify, quick and
// repeat on; -c turns debug and verify off again (copy). A window token
// holds for the rest of the line, until another replaces it.
type Trickle struct{ Pairs []Pair }

func (Trickle) Verb() string { return "trickle" }

// String renders the line; each pair is preceded by the switches that
// changed since the one before, so it parses back the same.
func (c Trickle) String() string {
	f := []string{"trickle"}
	var prev Pair
	for i, p := range c.Pairs {
		f = append(f, p.switchesSince(prev, i == 0)...)
		f = append(f, p.Src, p.Dst)
		prev = p
	}
	return join(f...)
}

// Line returns the pair alone as a trickle line.
func (p Pair) Line() string {
	return Trickle{Pairs: []Pair{p}}.String()
}

func (p Pair) switchesSince(prev Pair, first bool) []string {
	var f []string
	flags := ""
	if (prev.Debug && !p.Debug) || (prev.Verify && !p.Verify) {
		flags += "c"
		prev.Debug, prev.Verify = false, false
	}
	for _, x := range []struct {
		on, was bool
		c       string
	}{{p.Debug, prev.Debug, "D"}, {p.Repeat, prev.Repeat, "R"}, {p.Verify, prev.Verify, "V"}, {p.Quick, prev.Quick, "Q"}} {
		if x.on && !x.was {
			flags += x.c
		}
	}
	if flags != "" {
		f = append(f, "-"+flags)
	}
	if p.Window != nil && (first || prev.Window == nil || prev.Window.String() != p.Window.String()) {
		f = append(f, p.Window.String())
	}
	return f
}

func parseTrickle(args []string) (Cmd, error) {
	var c Trickle
	var cur Pair
	var src string
	for _, a := range args {
		switch {
		case strings.HasPrefix(a, "("):
			w, err := ParseWindow(a)
			if err != nil {
				return nil, fmt.Errorf("trickle: %v", err)
			}
			cur.Window = w
		case len(a) > 1 && a[0] == '-':
			for _, ch := range a[1:] {
				switch ch {
				case 'c':
					cur.Debug, cur.Verify = false, false
				case 'D':
					cur.Debug = true
				case 'R':
					cur.Repeat = true
				case 'V':
					cur.Verify = true
				case 'Q':
					cur.Quick = true
				default:
					return nil, fmt.Errorf("trickle: bad switch %s", Clip(a))
				}
			}
		case src == "":
			if err := checkSource(a); err != nil {
				return nil, err
			}
			src = a
		default:
			if a == Local || a == FossilSource || strings.HasPrefix(a, "vac:") || checkEndpoint("trickle", a) != nil {
				return nil, fmt.Errorf("trickle: bad destination %s", Clip(a))
			}
			p := cur
			p.Src, p.Dst = src, a
			c.Pairs = append(c.Pairs, p)
			src = ""
		}
	}
	if src != "" || len(c.Pairs) == 0 {
		return nil, usage(usageTrickle)
	}
	return c, nil
}

// checkSource accepts "local", "vac:score", a target name or a dial
// string.
func checkSource(s string) error {
	if s == FossilSource {
		return nil
	}
	if strings.HasPrefix(s, "vac:") {
		if _, err := venti.ParseScore(s); err != nil {
			return fmt.Errorf("trickle: bad score %s", Clip(s))
		}
		return nil
	}
	if err := checkEndpoint("trickle", s); err != nil {
		return fmt.Errorf("trickle: bad source %s", Clip(s))
	}
	return nil
}

// Set sets one of trickle's global controls.
type Set struct {
	Name  string
	Value int
}

// Settings are the controls set names, with their defaults.
var Settings = []Set{
	{"maxretries", 10},
	{"retryseconds", 20},
	{"repeatseconds", 1800},
	{"secondsbetweenmoves", 0},
}

func (Set) Verb() string     { return "set" }
func (c Set) String() string { return join("set", c.Name, strconv.Itoa(c.Value)) }

func parseSet(args []string) (Cmd, error) {
	if len(args) != 2 {
		return nil, usage(usageSet)
	}
	known := false
	for _, s := range Settings {
		known = known || s.Name == args[0]
	}
	if !known {
		return nil, fmt.Errorf("set: unknown setting %s", Clip(args[0]))
	}
	n, err := strconv.Atoi(args[1])
	min := 0
	if args[0] == "retryseconds" || args[0] == "repeatseconds" {
		min = 1
	}
	if err != nil || n < min || n > 1<<30 {
		return nil, fmt.Errorf("set: bad %s %s", args[0], Clip(args[1]))
	}
	return Set{args[0], n}, nil
}

// ParseRate parses a byte rate: a number of bytes a second, with an
// optional k, m or g (powers of 1024). 0 means no limit.
func ParseRate(s string) (int64, error) {
	t := strings.ToLower(s)
	mult := int64(1)
	switch {
	case strings.HasSuffix(t, "k"):
		mult = 1 << 10
	case strings.HasSuffix(t, "m"):
		mult = 1 << 20
	case strings.HasSuffix(t, "g"):
		mult = 1 << 30
	}
	if mult != 1 {
		t = t[:len(t)-1]
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<50)/mult {
		return 0, fmt.Errorf("bad rate %s", Clip(s))
	}
	return n * mult, nil
}

// FormatRate writes a rate as ParseRate reads it.
func FormatRate(n int64) string {
	for _, u := range []struct {
		m int64
		s string
	}{{1 << 30, "g"}, {1 << 20, "m"}, {1 << 10, "k"}} {
		if n >= u.m && n%u.m == 0 {
			return strconv.FormatInt(n/u.m, 10) + u.s
		}
	}
	return strconv.FormatInt(n, 10)
}
