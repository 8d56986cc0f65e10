package arena

import (
	"encoding/binary"

	"replfs/venti"
)

// index maps (score, disk type) to where a clump is: an open-addressing
// hash table of 16-byte entries. An entry keeps 56 bits of the score,
// which is also its hash, the disk type, the clump's index address (48
// bits) and its size on disk. Callers confirm a match against the clump
// header, which holds the whole score. Kept at most 3/4 full, it takes
// 21 to 43 bytes per clump. It is not safe for concurrent use.
type index struct {
	slots []ientry
	n     int
}

type ientry struct {
	key uint64 // 56 bits of score << 8 | disk type; 0 is empty
	loc uint64 // index address << 16 | size on disk
}

const maxIndexAddr = 1<<48 - 1

func ikey(s venti.Score, dtype uint8) uint64 {
	return binary.BigEndian.Uint64(s[:8])&^0xff | uint64(dtype)
}

func newIndex(n int) *index {
	size := 1024
	for size*3/4 < n {
		size *= 2
	}
	return &index{slots: make([]ientry, size)}
}

// lookup calls fn with the address and size of each entry whose key
// matches, until fn returns true.
func (x *index) lookup(s venti.Score, dtype uint8, fn func(addr uint64, size uint16) bool) {
	k := ikey(s, dtype)
	mask := uint64(len(x.slots) - 1)
	for i := (k >> 8) & mask; ; i = (i + 1) & mask {
		e := x.slots[i]
		if e.key == 0 {
			return
		}
		if e.key == k && fn(e.loc>>16, uint16(e.loc)) {
			return
		}
	}
}

// insert adds an entry; avoiding duplicates is the caller's job.
func (x *index) insert(s venti.Score, dtype uint8, addr uint64, size uint16) {
	if (x.n+1)*4 > len(x.slots)*3 {
		x.grow()
	}
	x.put(ientry{ikey(s, dtype), addr<<16 | uint64(size)})
	x.n++
}

func (x *index) put(e ientry) {
	mask := uint64(len(x.slots) - 1)
	for i := (e.key >> 8) & mask; ; i = (i + 1) & mask {
		if x.slots[i].key == 0 {
			x.slots[i] = e
			return
		}
	}
}

func (x *index) grow() {
	old := x.slots
	x.slots = make([]ientry, 2*len(old))
	for _, e := range old {
		if e.key != 0 {
			x.put(e)
		}
	}
}

// bytes returns the memory the table holds.
func (x *index) bytes() int { return len(x.slots) * 16 }

// entryBad marks an entry whose clump failed its checks: its key then
// matches no lookup, so the block reads as absent and a new write of it
// is stored afresh. The slot stays taken, keeping probe chains intact.
const entryBad = 0x80

// markBad marks the entry for (s, dtype) at addr.
func (x *index) markBad(s venti.Score, dtype uint8, addr uint64) {
	k := ikey(s, dtype)
	mask := uint64(len(x.slots) - 1)
	for i := (k >> 8) & mask; ; i = (i + 1) & mask {
		e := &x.slots[i]
		if e.key == 0 {
			return
		}
		if e.key == k && e.loc>>16 == addr {
			e.key |= entryBad
			return
		}
	}
}

// each calls fn with every entry.
func (x *index) each(fn func(e ientry)) {
	for _, e := range x.slots {
		if e.key != 0 {
			fn(e)
		}
	}
}
