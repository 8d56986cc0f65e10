package venti

import (
	"fmt"
	"strconv"
	"strings"
)

// A Type is a block type in libventi's in-memory numbering
// (plan9port include/venti.h): DataType plus a depth for data pointer
// blocks, DirType plus a depth for directory pointer blocks, RootType.
// On the wire and on disk the older numbering is used; see DiskType.
type Type uint8

// Block types in memory.
const (
	DataType    Type = 0  // file data
	DirType     Type = 8  // a block of VtEntries
	RootType    Type = 16 // a VtRoot
	MaxType     Type = 17 // every valid type is below MaxType
	CorruptType Type = 0xFF

	TypeDepthMask = 7 // the pointer depth bits of a Type
)

// Disk and wire block types (plan9port src/libventi/dtype.c, the "O"
// numbering). 10, 11 and 12 are pointer types nobody uses; 0 is illegal.
const (
	diskErrType     = 0
	diskRootType    = 1
	diskDirType     = 2
	diskPointerType = 3 // 3..9: pointer depth 1..7
	diskDataType    = 13
)

// DiskType returns t in the disk and wire numbering, and false for a
// type that has none (MaxType and above). The mapping loses the data/dir
// distinction of pointer blocks: DataType+d and DirType+d (d = 1..7) both
// become 2+d.
func (t Type) DiskType() (uint8, bool) {
	switch {
	case t == DataType:
		return diskDataType, true
	case t < DirType:
		return diskPointerType - 1 + uint8(t), true
	case t == DirType:
		return diskDirType, true
	case t < RootType:
		return diskPointerType - 1 + uint8(t-DirType), true
	case t == RootType:
		return diskRootType, true
	}
	return 0, false
}

// FromDiskType returns the in-memory type for a disk or wire type.
// Pointer types come back as the dir flavour (DirType+d), as plan9port's
// vtfromdisktype does. Types with no meaning (0, 10..12, above 13) give
// CorruptType.
func FromDiskType(d uint8) Type {
	switch {
	case d == diskRootType:
		return RootType
	case d == diskDirType:
		return DirType
	case d >= diskPointerType && d <= diskPointerType+6:
		return DirType + Type(d-diskPointerType+1)
	case d == diskDataType:
		return DataType
	}
	return CorruptType
}

// Depth returns the pointer depth of t (0 for data, dir and root).
func (t Type) Depth() int {
	if t >= RootType {
		return 0
	}
	return int(t & TypeDepthMask)
}

// Valid reports whether t is a type that can be sent.
func (t Type) Valid() bool { return t < MaxType }

// String returns the type's number, as plan9port prints it in error
// strings ("no block with score …/9 exists").
func (t Type) String() string { return strconv.Itoa(int(t)) }

// Name returns a descriptive name: data, dir, root, data+N or dir+N for
// pointer blocks of depth N.
func (t Type) Name() string {
	switch {
	case t == DataType:
		return "data"
	case t < DirType:
		return fmt.Sprintf("data+%d", t)
	case t == DirType:
		return "dir"
	case t < RootType:
		return fmt.Sprintf("dir+%d", t-DirType)
	case t == RootType:
		return "root"
	}
	return "corrupt(" + strconv.Itoa(int(t)) + ")"
}

// ParseType parses a block type as the -t flag of plan9port's venti/read
// and venti/write takes it: an in-memory type number 0..16. The names
// data, dir and root, data+N and dir+N (pointer depth N), and pointerN
// (the disk name of a pointer block of depth N+1, read back as dir+N+1)
// are accepted too.
func ParseType(s string) (Type, error) {
	bad := fmt.Errorf("bad block type %q", s)
	switch s {
	case "data":
		return DataType, nil
	case "dir":
		return DirType, nil
	case "root":
		return RootType, nil
	}
	for _, p := range []struct {
		prefix string
		base   Type
		lo     int
	}{{"data+", DataType, 1}, {"dir+", DirType, 1}, {"pointer", DirType, 0}} {
		if rest, ok := strings.CutPrefix(s, p.prefix); ok {
			n, err := strconv.Atoi(rest)
			if err != nil || n < p.lo || n > p.lo+6 {
				return 0, bad
			}
			return p.base + Type(n-p.lo+1), nil
		}
	}
	n, err := strconv.ParseUint(s, 0, 8)
	if err != nil || Type(n) >= MaxType {
		return 0, bad
	}
	return Type(n), nil
}
