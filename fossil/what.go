package fossil

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"unicode"
	"unicode/utf8"
)

// Refusing the wrong file. A fossil partition is named by whoever
// writes ctl, so before replfs formats one (flfmt -v, fosreset) or
// starts fossil on one, it must be a fossil partition (its header) or,
// to be formatted, hold nothing but zeros where the format writes. What
// it does hold is named in the error:
//
//	x: not a fossil partition (holds text)

// ErrNotFossil means the partition has no fossil header. Errors that
// say what the partition holds instead match it with errors.Is.
var ErrNotFossil = errors.New("not a fossil partition")

// notFossilError names what a file holds instead of a fossil.
type notFossilError struct{ path, holds string }

func (e *notFossilError) Error() string {
	return e.path + ": " + ErrNotFossil.Error() + " (holds " + e.holds + ")"
}

func (e *notFossilError) Is(target error) bool { return target == ErrNotFossil }

// Venti's magic numbers, at 256 KiB on its partitions (plan9port
// venti/srv/dat.h), and a Bloom filter's at 0.
const (
	ventiPartOffset = 256 * 1024
	arenaPartMagic  = 0xa9e4a5e7
	isectMagic      = 0xd15c5ec7
	arenaHeadMagic  = 0xd15c4ead
	bloomMagic      = 0xb1004ead
)

// sampleSize is how much of a file Holds looks at to call it text.
const sampleSize = 64 * 1024

// holds says what f holds, for a file that is no fossil: a venti
// partition by its magic number; else, from the first bytes that are
// not zero, text or data; else only zeros.
func holds(f io.ReaderAt) string {
	var m [4]byte
	if _, err := f.ReadAt(m[:], ventiPartOffset); err == nil {
		switch binary.BigEndian.Uint32(m[:]) {
		case arenaPartMagic:
			return "a venti arena partition"
		case isectMagic:
			return "a venti index section"
		}
	}
	if _, err := f.ReadAt(m[:], 0); err == nil {
		switch binary.BigEndian.Uint32(m[:]) {
		case arenaHeadMagic:
			return "a venti arena"
		case bloomMagic:
			return "a venti bloom filter"
		}
	}
	// The first non-zero bytes, from the start.
	b := make([]byte, sampleSize)
	for off := int64(0); ; off += sampleSize {
		n, err := f.ReadAt(b, off)
		s := bytes.TrimLeft(b[:n], "\x00")
		if len(s) > 0 {
			if off > 0 || len(s) < n {
				// Text after zeros is still text; read a full sample of it.
				start := off + int64(n-len(s))
				n, _ = f.ReadAt(b, start)
				s = b[:n]
			}
			if isText(bytes.TrimRight(s, "\x00")) {
				return "text"
			}
			return "data"
		}
		if err != nil || n < len(b) {
			return "only zeros"
		}
	}
}

// isText reports whether b is UTF-8 of printable characters and
// white space; a rune cut at the end of the sample is allowed.
func isText(b []byte) bool {
	for len(b) > 0 {
		r, w := utf8.DecodeRune(b)
		if r == utf8.RuneError && w <= 1 {
			return len(b) < utf8.UTFMax && !utf8.FullRune(b)
		}
		if !unicode.IsPrint(r) && !unicode.IsSpace(r) {
			return false
		}
		b = b[w:]
	}
	return true
}

// notFossil returns the error for a file at path, open as f, that has
// no fossil header.
func notFossil(f io.ReaderAt, path string) error {
	return &notFossilError{path, holds(f)}
}

// CheckFormat refuses to format the file at path as FormatV would with
// block size bs (0: 8192) unless it is a fossil partition (it has a
// fossil header) or holds only zeros everywhere the format writes: the
// header block, the superblock, the label blocks and the first two
// data blocks.
func CheckFormat(path string, bs int) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	return checkFormat(f, st.Size(), path, bs)
}

func checkFormat(f io.ReaderAt, size int64, path string, bs int) error {
	if bs == 0 {
		bs = 8192
	}
	var m [4]byte
	if _, err := f.ReadAt(m[:], HeaderOffset); err == nil && binary.BigEndian.Uint32(m[:]) == headerMagic {
		return nil
	}
	// A venti partition leaves the fossil's regions blank: its magic
	// decides, zeros or not.
	if h := holds(f); h != "text" && h != "data" && h != "only zeros" {
		return &notFossilError{path, h}
	}
	h, err := layout(size, bs)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, r := range [][2]int64{
		{HeaderOffset, HeaderOffset + int64(bs)},
		{int64(h.Super) * int64(bs), int64(h.Data+2) * int64(bs)},
	} {
		ok, err := zeros(f, r[0], r[1])
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if !ok {
			return notFossil(f, path)
		}
	}
	return nil
}

// zeros reports whether f holds only zeros in [from, to).
func zeros(f io.ReaderAt, from, to int64) (bool, error) {
	b := make([]byte, 1<<20)
	for off := from; off < to; off += int64(len(b)) {
		n := int(min(int64(len(b)), to-off))
		if _, err := f.ReadAt(b[:n], off); err != nil {
			return false, err
		}
		for _, c := range b[:n] {
			if c != 0 {
				return false, nil
			}
		}
	}
	return true, nil
}

// NotHeld refuses a file another process has open: a partition a
// running fossil or venti writes must not be formatted under it.
func NotHeld(path string) error {
	pids, err := Holders(path)
	if err != nil {
		return err
	}
	if len(pids) > 0 {
		return fmt.Errorf("%s is in use by process %v", path, pids)
	}
	return nil
}
