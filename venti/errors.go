package venti

import (
	"errors"
	"fmt"
	"strings"
)

// ErrCorrupt marks data that failed a check: a score that does not match
// the bytes, a bad type, a malformed block. It is never retried.
var ErrCorrupt = errors.New("corrupt data")

// ErrNotFound is the cause of NotFound errors made by a local Store.
var ErrNotFound = errors.New("no such block")

// ErrClosed is returned by calls on a Conn after Close.
var ErrClosed = errors.New("venti connection closed")

// A ServerError is the text of an Rerror from a venti server, so callers
// can tell a remote refusal from a local failure.
type ServerError string

func (e ServerError) Error() string { return string(e) }

// notFoundPrefix begins plan9port venti's missing-block error
// (src/cmd/venti/srv/lump.c).
const notFoundPrefix = "no block with score "

// NotFound returns the error a Store gives for a missing block. Its text
// is plan9port venti's, "no block with score %v/%d exists", which the
// Server sends as the Rerror.
func NotFound(s Score, t Type) error {
	return &notFoundError{s, t}
}

type notFoundError struct {
	score Score
	typ   Type
}

func (e *notFoundError) Error() string {
	return fmt.Sprintf("%s%v/%d exists", notFoundPrefix, e.score, e.typ)
}

func (e *notFoundError) Unwrap() error { return ErrNotFound }

// IsNotFound reports whether err says a block does not exist, either from
// a local Store or as a server's Rerror.
func IsNotFound(err error) bool {
	if errors.Is(err, ErrNotFound) {
		return true
	}
	var se ServerError
	return errors.As(err, &se) && strings.HasPrefix(string(se), notFoundPrefix)
}

// Server error texts, as plan9port venti words them
// (src/cmd/venti/srv/lump.c, clump.c, venti.c).
var (
	errLumpTooLarge = errors.New("lump too large")
	errUnknownReq   = errors.New("unknown request")
	errReadOnly     = errors.New("read only")
)

func errReadTooSmall(asked, need int) error {
	return fmt.Errorf("read too small: asked for %d need at least %d", asked, need)
}

// IsCorrupt reports whether err says data failed a check, here
// (ErrCorrupt) or on a server, whose Rerror text says so.
func IsCorrupt(err error) bool {
	if errors.Is(err, ErrCorrupt) {
		return true
	}
	var se ServerError
	return errors.As(err, &se) && (strings.Contains(string(se), "corrupt") || strings.Contains(string(se), "mismatched score"))
}
