// Package fossil works with fossil file systems from the outside: it
// reads a partition's header and superblock (fossil/last), re-roots a
// partition on an archive in venti as flfmt -v does, and drives a
// running fossil's console. Nothing here is a promised API.
//
// # Disk layout
//
// Layouts as plan9port src/cmd/fossil/dat.h and pack.c; integers are
// big-endian. The partition's first 128 KiB are fossil's own (the text
// config at 127 KiB); the header is at 128 KiB:
//
//	magic[4]=3776ae89 version[2]=1 blocksize[2] super[4] label[4] data[4] end[4]
//
// The superblock is block super:
//
//	magic[4]=2340a3b1 version[2]=1 epochlow[4] epochhigh[4] qid[8]
//	active[4] next[4] current[4] last[20] name[128]
//
// then label blocks (14 bytes a data block: state, type, epoch,
// epochclose, tag) and the data blocks.
package fossil

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"replfs/venti"
)

// Layout constants.
const (
	HeaderOffset  = 128 * 1024
	ConfigOffset  = 127 * 1024 // the text config, at most 1 KiB
	headerMagic   = 0x3776ae89
	headerVersion = 1
	headerSize    = 512
	superMagic    = 0x2340a3b1
	superVersion  = 1
	superSize     = 512
	labelSize     = 14
	// NilBlock is the address of no block.
	NilBlock = 0xffffffff
	rootTag  = 1
)

// Label states and block types.
const (
	bsAlloc = 1
	btDir   = 8
)

// A Header is the partition header.
type Header struct {
	BlockSize int
	Super     uint32 // block numbers
	Label     uint32
	Data      uint32
	End       uint32
}

func unpackHeader(b []byte) (Header, error) {
	var h Header
	if len(b) < 24 {
		return h, ErrNotFossil
	}
	if binary.BigEndian.Uint32(b) != headerMagic {
		return h, ErrNotFossil
	}
	if v := binary.BigEndian.Uint16(b[4:]); v != headerVersion {
		return h, fmt.Errorf("fossil header version %d", v)
	}
	h.BlockSize = int(binary.BigEndian.Uint16(b[6:]))
	h.Super = binary.BigEndian.Uint32(b[8:])
	h.Label = binary.BigEndian.Uint32(b[12:])
	h.Data = binary.BigEndian.Uint32(b[16:])
	h.End = binary.BigEndian.Uint32(b[20:])
	if h.BlockSize < 512 || h.BlockSize%512 != 0 || h.Super == 0 || h.Label <= h.Super || h.Data < h.Label || h.End < h.Data {
		return h, fmt.Errorf("fossil header: bad layout %+v", h)
	}
	return h, nil
}

func packHeader(h Header, b []byte) {
	clear(b[:headerSize])
	binary.BigEndian.PutUint32(b, headerMagic)
	binary.BigEndian.PutUint16(b[4:], headerVersion)
	binary.BigEndian.PutUint16(b[6:], uint16(h.BlockSize))
	binary.BigEndian.PutUint32(b[8:], h.Super)
	binary.BigEndian.PutUint32(b[12:], h.Label)
	binary.BigEndian.PutUint32(b[16:], h.Data)
	binary.BigEndian.PutUint32(b[20:], h.End)
}

// A Super is the superblock.
type Super struct {
	EpochLow  uint32
	EpochHigh uint32
	Qid       uint64 // the next qid to hand out
	Active    uint32 // the live root block
	Next      uint32 // a root waiting to be archived, or NilBlock
	Current   uint32 // the root being archived, or NilBlock
	Last      venti.Score
	Name      string
}

// Archiving reports whether an archive is waiting or under way.
func (s Super) Archiving() bool { return s.Next != NilBlock || s.Current != NilBlock }

func unpackSuper(b []byte) (Super, error) {
	var s Super
	if len(b) < superSize || binary.BigEndian.Uint32(b) != superMagic {
		return s, errors.New("corrupted super block")
	}
	if binary.BigEndian.Uint16(b[4:]) != superVersion {
		return s, errors.New("corrupted super block: version")
	}
	s.EpochLow = binary.BigEndian.Uint32(b[6:])
	s.EpochHigh = binary.BigEndian.Uint32(b[10:])
	s.Qid = binary.BigEndian.Uint64(b[14:])
	if s.EpochLow == 0 || s.EpochLow > s.EpochHigh || s.Qid == 0 {
		return s, errors.New("corrupted super block: epochs or qid")
	}
	s.Active = binary.BigEndian.Uint32(b[22:])
	s.Next = binary.BigEndian.Uint32(b[26:])
	s.Current = binary.BigEndian.Uint32(b[30:])
	copy(s.Last[:], b[34:54])
	s.Name = cstring(b[54 : 54+127])
	return s, nil
}

func packSuper(s Super, b []byte) {
	clear(b[:superSize])
	binary.BigEndian.PutUint32(b, superMagic)
	binary.BigEndian.PutUint16(b[4:], superVersion)
	binary.BigEndian.PutUint32(b[6:], s.EpochLow)
	binary.BigEndian.PutUint32(b[10:], s.EpochHigh)
	binary.BigEndian.PutUint64(b[14:], s.Qid)
	binary.BigEndian.PutUint32(b[22:], s.Active)
	binary.BigEndian.PutUint32(b[26:], s.Next)
	binary.BigEndian.PutUint32(b[30:], s.Current)
	copy(b[34:54], s.Last[:])
	copy(b[54:54+127], s.Name)
}

func cstring(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// ReadSuper reads a partition's header and superblock from disk.
func ReadSuper(path string) (Header, Super, error) {
	f, err := os.Open(path)
	if err != nil {
		return Header{}, Super{}, err
	}
	defer f.Close()
	return readSuper(f, path)
}

func readSuper(f io.ReaderAt, path string) (Header, Super, error) {
	b := make([]byte, headerSize)
	if _, err := f.ReadAt(b, HeaderOffset); err != nil {
		return Header{}, Super{}, fmt.Errorf("%s: read header: %w", path, err)
	}
	h, err := unpackHeader(b)
	if errors.Is(err, ErrNotFossil) {
		return h, Super{}, notFossil(f, path)
	}
	if err != nil {
		return h, Super{}, fmt.Errorf("%s: %w", path, err)
	}
	sb := make([]byte, superSize)
	if _, err := f.ReadAt(sb, int64(h.Super)*int64(h.BlockSize)); err != nil {
		return h, Super{}, fmt.Errorf("%s: read super block: %w", path, err)
	}
	s, err := unpackSuper(sb)
	if err != nil {
		return h, s, fmt.Errorf("%s: %w", path, err)
	}
	return h, s, nil
}

// Last returns the score of the partition's last archive, as
// fossil/last prints it. ZeroScore means no archive yet: after a format
// (flfmt -v included) until the first archive completes; it is never a
// root to record.
func Last(path string) (venti.Score, error) {
	_, s, err := ReadSuper(path)
	return s.Last, err
}
