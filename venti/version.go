package venti

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Protocol versions. "04" (plan9port only, since 2009) frames messages
// with a 4-byte length and allows 4-byte Tread counts; "02" (Plan 9,
// 9front) uses a 2-byte length.
const (
	Version04 = "04"
	Version02 = "02"
)

// versions are the versions we speak, in order of preference. The order
// must be plan9port's (reference venti.md 1.2): a peer that walks our
// list and we, walking our own list for the first version the peer
// lists, then agree.
var versions = []string{Version04, Version02}

// versionComment is the comment in our version line.
const versionComment = "replfs"

const (
	versionPrefix  = "venti-"
	maxVersionLine = 1024 // VtMaxStringSize, as plan9port's vtreadversion
)

// A VersionLine is the text line each side sends before any message:
// "venti-04:02-libventi\n".
type VersionLine struct {
	Versions []string // the offered versions, e.g. 04 and 02
	Comment  string   // text after the versions; may contain '-'
}

// String returns the line as sent, with its newline.
func (v VersionLine) String() string {
	s := versionPrefix + strings.Join(v.Versions, ":")
	if v.Comment != "" {
		s += "-" + v.Comment
	}
	return s + "\n"
}

// ourVersionLine is what replfs sends: venti-04:02-replfs.
var ourVersionLine = VersionLine{Versions: versions, Comment: versionComment}.String()

var errBadVersion = errors.New("bad format in version string")

// ParseVersionLine parses a version line, with or without its newline,
// with plan9port's rules: it starts "venti-" and holds only bytes
// 0x20..0x7f.
func ParseVersionLine(line string) (VersionLine, error) {
	var v VersionLine
	line = strings.TrimSuffix(line, "\n")
	if len(line) >= maxVersionLine {
		return v, fmt.Errorf("version too long")
	}
	rest, ok := strings.CutPrefix(line, versionPrefix)
	if !ok {
		return v, errBadVersion
	}
	for i := 0; i < len(line); i++ {
		if line[i] < ' ' || line[i] > 0x7f {
			return v, errBadVersion
		}
	}
	vers, comment, _ := strings.Cut(rest, "-")
	v.Versions = strings.Split(vers, ":")
	v.Comment = comment
	return v, nil
}

// tokens returns every token of the line split on both ':' and '-', the
// way plan9port's vtversion reads a peer's line.
func (v VersionLine) tokens() []string {
	s := strings.Join(v.Versions, ":") + "-" + v.Comment
	return strings.FieldsFunc(s, func(r rune) bool { return r == ':' || r == '-' })
}

// chooseVersion picks the first of our versions that the peer's line
// offers. Both roles use this rule: plan9port, client or server, walks
// our line and takes the first of our versions it knows, which is the
// same choice.
func chooseVersion(peer VersionLine) (string, error) {
	offered := peer.tokens()
	for _, v := range versions {
		for _, o := range offered {
			if o == v {
				return v, nil
			}
		}
	}
	return "", fmt.Errorf("unable to negotiate version with %q", strings.TrimSuffix(peer.String(), "\n"))
}

// readVersionLine reads the peer's line one byte at a time, up to and
// excluding the newline, failing early on a byte that cannot belong.
func readVersionLine(r *bufio.Reader) (VersionLine, error) {
	var b strings.Builder
	for {
		c, err := r.ReadByte()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return VersionLine{}, err
		}
		if c == '\n' {
			break
		}
		n := b.Len()
		if n >= maxVersionLine-1 {
			return VersionLine{}, fmt.Errorf("version too long")
		}
		if c < ' ' || c > 0x7f || (n < len(versionPrefix) && c != versionPrefix[n]) {
			return VersionLine{}, errBadVersion
		}
		b.WriteByte(c)
	}
	return ParseVersionLine(b.String())
}

// exchangeVersions writes our line, reads the peer's, and returns the
// version both sides will use. Like plan9port's vtversion it writes
// before it reads, so neither side waits for the other; the line is
// short enough for any transport's buffering.
func exchangeVersions(w io.Writer, r *bufio.Reader) (string, error) {
	if _, err := io.WriteString(w, ourVersionLine); err != nil {
		return "", fmt.Errorf("write version: %w", err)
	}
	peer, err := readVersionLine(r)
	if err != nil {
		return "", fmt.Errorf("read version: %w", err)
	}
	return chooseVersion(peer)
}
