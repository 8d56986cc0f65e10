package ctl

import (
	"errors"
	"strings"
)

// Tokenize splits a line into fields as Plan 9's tokenize does: fields
// are separated by blanks and tabs; a single-quoted string is one field,
// with ” standing for a quote inside it; quotes may join other text.
// One addition for time windows: a field beginning with '(' runs to the
// matching ')', blanks included, so (Saturday .. Monday) is one field;
// so is a window in double quotes, as a Unix shell user writes it.
func Tokenize(line string) ([]string, error) {
	var fields []string
	i := 0
	for {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i >= len(line) {
			return fields, nil
		}
		var b strings.Builder
		dq := line[i] == '"' && i+1 < len(line) && line[i+1] == '('
		if dq {
			i++
		}
		if line[i] == '(' {
			depth := 0
			for ; i < len(line); i++ {
				if line[i] == '(' {
					depth++
				} else if line[i] == ')' {
					depth--
				}
				b.WriteByte(line[i])
				if depth == 0 {
					i++
					break
				}
			}
			if depth != 0 {
				return nil, errors.New("unmatched (")
			}
			if dq {
				if i >= len(line) || line[i] != '"' {
					return nil, errors.New("unmatched \"")
				}
				i++
			}
			fields = append(fields, b.String())
			continue
		}
		quoted := false
		for i < len(line) {
			c := line[i]
			if !quoted && (c == ' ' || c == '\t') {
				break
			}
			if c == '\'' {
				if quoted && i+1 < len(line) && line[i+1] == '\'' {
					b.WriteByte('\'')
					i += 2
					continue
				}
				quoted = !quoted
				i++
				continue
			}
			b.WriteByte(c)
			i++
		}
		if quoted {
			return nil, errors.New("unmatched quote")
		}
		fields = append(fields, b.String())
	}
}

// Quote returns s as a field Tokenize reads back as s: quoted when it
// is empty or holds blanks, quotes or parentheses.
func Quote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t'()#\n") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
