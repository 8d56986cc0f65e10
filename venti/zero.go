package venti

// RootSize is the size of a packed VtRoot.
const RootSize = 300

// ZeroTruncate returns b without its trailing zeros, the client
// convention for storing blocks (as plan9port src/libventi/zero.c
// vtzerotruncate): data and dir blocks lose trailing zero bytes, pointer
// blocks lose trailing ZeroScores (after any partial score is dropped),
// root blocks are cut to RootSize and no further.
func ZeroTruncate(t Type, b []byte) []byte {
	if t == RootType {
		return b[:min(len(b), RootSize)]
	}
	if t&TypeDepthMask == 0 { // data and dir
		n := len(b)
		for n > 0 && b[n-1] == 0 {
			n--
		}
		return b[:n]
	}
	n := len(b) / ScoreSize * ScoreSize
	for n > 0 && Score(b[n-ScoreSize:n]) == ZeroScore {
		n -= ScoreSize
	}
	return b[:n]
}

// ZeroExtend returns b padded to size, the inverse of ZeroTruncate (as
// vtzeroextend): zero bytes for data, dir and root blocks; for pointer
// blocks, ZeroScores from the last whole score of b on, and zero bytes
// in any slop after the last whole score. The result is a new slice
// unless b is already size bytes or longer.
func ZeroExtend(t Type, b []byte, size int) []byte {
	if len(b) >= size {
		return b
	}
	out := make([]byte, size)
	n := copy(out, b)
	if t&TypeDepthMask != 0 {
		end := size / ScoreSize * ScoreSize
		for p := n / ScoreSize * ScoreSize; p < end; p += ScoreSize {
			copy(out[p:], ZeroScore[:])
		}
	}
	return out
}
