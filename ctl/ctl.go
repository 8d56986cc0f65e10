// Package ctl is replfs's control language: the lines written to /ctl,
// tokenized like Plan 9's tokenize, checked against one table of verbs,
// and turned into typed commands. Nothing here is a promised API.
//
// Errors follow lib9p: an unknown verb is `unknown control message
// "frob"`, a wrong argument is the verb's usage line.
package ctl

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A Cmd is a parsed control message. String returns it as a line that
// parses back to the same command.
type Cmd interface {
	Verb() string
	String() string
}

// A Verb is one entry of the command table.
type Verb struct {
	Name  string
	Usage string // the usage line, without "usage: "
	Parse func(args []string) (Cmd, error)
}

// ErrUsage marks a usage error; its text is the verb's usage line.
var ErrUsage = errors.New("usage")

type usageError struct{ usage string }

func (e *usageError) Error() string { return "usage: " + e.usage }
func (e *usageError) Unwrap() error { return ErrUsage }

// usage returns the usage error for a usage line.
func usage(line string) error { return &usageError{line} }

// Parse parses one control line.
func Parse(line string) (Cmd, error) {
	f, err := Tokenize(line)
	if err != nil {
		return nil, fmt.Errorf("bad control message: %v", err)
	}
	if len(f) == 0 {
		return nil, errors.New("empty control message")
	}
	for _, v := range Verbs {
		if v.Name == f[0] {
			return v.Parse(f[1:])
		}
	}
	return nil, fmt.Errorf("unknown control message %s", Clip(f[0]))
}

// ParseText parses the lines of one write: blank lines and lines whose
// first non-blank character is '#' are skipped. It returns the first
// error, so a write with a bad line applies none of its lines.
func ParseText(text string) ([]Cmd, error) {
	var cmds []Cmd
	lines := strings.Split(text, "\n")
	n := 0 // lines with a message
	for _, line := range lines {
		if t := strings.TrimSpace(line); t != "" && t[0] != '#' {
			n++
		}
	}
	for i, line := range lines {
		t := strings.TrimSpace(line)
		if t == "" || t[0] == '#' {
			continue
		}
		c, err := Parse(t)
		if err != nil {
			if n > 1 {
				// Which line of a write of many is wrong.
				return nil, fmt.Errorf("line %d: %w", i+1, err)
			}
			return nil, err
		}
		cmds = append(cmds, c)
	}
	if len(cmds) == 0 {
		return nil, errors.New("empty control message")
	}
	return cmds, nil
}

// ParseSaved parses a saved configuration. Unlike ParseText it keeps
// the lines that parse and returns an error, with its line number, for
// each that does not: a line an older replfs saved and this one refuses
// (a bad target name) must not stop replfs starting with the rest.
func ParseSaved(text string) ([]Cmd, []error) {
	var cmds []Cmd
	var errs []error
	for i, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || t[0] == '#' {
			continue
		}
		c, err := Parse(t)
		if err != nil {
			errs = append(errs, fmt.Errorf("config line %d: %w", i+1, err))
			continue
		}
		cmds = append(cmds, c)
	}
	return cmds, errs
}

// flags splits leading flags from args, failing with the usage line use: each flag is a letter in
// boolean or in valued (which takes the next argument). It returns the
// flags set, their values, and the remaining arguments.
func flags(use string, args []string, boolean, valued string) (map[byte]bool, map[byte]string, []string, error) {
	set := map[byte]bool{}
	vals := map[byte]string{}
	for len(args) > 0 && len(args[0]) > 1 && args[0][0] == '-' {
		a := args[0]
		args = args[1:]
		if a == "--" {
			break
		}
		for i := 1; i < len(a); i++ {
			c := a[i]
			switch {
			case strings.IndexByte(boolean, c) >= 0:
				set[c] = true
			case strings.IndexByte(valued, c) >= 0:
				if i != len(a)-1 || len(args) == 0 {
					return nil, nil, nil, usage(use)
				}
				set[c] = true
				vals[c] = args[0]
				args = args[1:]
			default:
				return nil, nil, nil, usage(use)
			}
		}
	}
	return set, vals, args, nil
}

// join renders fields as a line, quoting as needed.
func join(fields ...string) string {
	q := make([]string, len(fields))
	for i, f := range fields {
		q[i] = Quote(f)
	}
	return strings.Join(q, " ")
}

// Clip returns s quoted as %q quotes it, cut to a short prefix with
// "..." after when longer: an error echoes little of its input, which
// may be hostile and large (9P keeps 127 bytes of an error anyway).
func Clip(s string) string {
	const maxIn, maxOut = 48, 56
	if q := strconv.Quote(s); len(s) <= maxIn && len(q) <= maxOut {
		return q
	}
	n := 0
	for n < len(s) {
		_, w := utf8.DecodeRuneInString(s[n:])
		if n+w > maxIn || len(strconv.Quote(s[:n+w])) > maxOut {
			break
		}
		n += w
	}
	return strconv.Quote(s[:n]) + "..."
}

// printable reports whether s is UTF-8 of printable characters and no
// blanks: no control characters, which a name may carry into a file
// name, a console command or a log line.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return false
		}
	}
	return true
}
