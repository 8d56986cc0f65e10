package venti

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strings"
)

// ScoreSize is the length of a score in bytes (VtScoreSize).
const ScoreSize = 20

// A Score names a block: the SHA-1 of its bytes.
type Score [ScoreSize]byte

// ZeroScore is the score of the empty block, SHA-1 of nothing. Clients
// never send it: writing an empty block yields it without a round trip
// and reading it yields an empty block.
var ZeroScore = Score{
	0xda, 0x39, 0xa3, 0xee, 0x5e, 0x6b, 0x4b, 0x0d, 0x32, 0x55,
	0xbf, 0xef, 0x95, 0x60, 0x18, 0x90, 0xaf, 0xd8, 0x07, 0x09,
}

// Sum returns the score of data.
func Sum(data []byte) Score {
	return Score(sha1.Sum(data))
}

// String returns the score as 40 lowercase hex digits.
func (s Score) String() string {
	return hex.EncodeToString(s[:])
}

// IsZero reports whether s is ZeroScore or the all-zero score, both of
// which venti/copy treats as "nothing here".
func (s Score) IsZero() bool {
	return s == ZeroScore || s == Score{}
}

// ParseScore parses 40 hex digits in either case, after an optional
// label prefix such as "vac:" (everything up to the first colon), as
// plan9port src/libventi/parsescore.c vtparsescore does.
func ParseScore(s string) (Score, error) {
	var sc Score
	_, hexpart, _ := cutLabel(s)
	if len(hexpart) != 2*ScoreSize {
		return sc, fmt.Errorf("bad score %q", s)
	}
	if _, err := hex.Decode(sc[:], []byte(hexpart)); err != nil {
		return sc, fmt.Errorf("bad score %q", s)
	}
	return sc, nil
}

// ParseLabeledScore is ParseScore that also returns the label ("vac"
// for "vac:…", "" when there is none).
func ParseLabeledScore(s string) (label string, sc Score, err error) {
	label, _, _ = cutLabel(s)
	sc, err = ParseScore(s)
	return label, sc, err
}

func cutLabel(s string) (label, rest string, ok bool) {
	if i := strings.IndexByte(s, ':'); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return "", s, false
}
