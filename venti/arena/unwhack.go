package arena

import (
	"errors"
	"fmt"
)

// Decoding tables of the whack format (plan9port src/cmd/venti/srv/
// unwhack.c, described in reference venti.md 3.12).
var (
	// whackOffBits and whackOffBase give, for a 4-bit offset class, the
	// number of extra bits and the base they are added to.
	whackOffBits = [16]uint8{5, 5, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 12, 13}
	whackOffBase = [16]uint16{0, 0x20, 0x40, 0x60, 0x80, 0xc0, 0x100, 0x180,
		0x200, 0x300, 0x400, 0x600, 0x800, 0xc00, 0x1000, 0x2000}
)

const (
	whackBigLenCode = 0x3c // the smallest 6-bit code of a long match
	whackBigLenBits = 6
	whackMaxFastLen = 7
	whackMinDecode  = 8
)

var errOverrun = errors.New("compressed data overrun")

// unwhack decompresses src into dst, which has room for exactly the
// expected uncompressed size, and returns the number of bytes produced.
// Errors name what is wrong with the input; nothing in it can make
// unwhack panic or write outside dst.
func unwhack(dst, src []byte) (int, error) {
	var (
		acc     uint64 // bit accumulator; the low nbits are pending
		nbits   int
		over    int // zero bits supplied past the end of src
		lithist = ^uint32(0)
		d       int // bytes produced
		s       int // bytes of src consumed
	)
	refill := func() {
		for nbits <= 24 {
			acc <<= 8
			if s < len(src) {
				acc |= uint64(src[s])
				s++
			} else {
				over += 8
			}
			nbits += 8
		}
	}
	for s < len(src) || nbits-over >= whackMinDecode {
		refill()
		p := int(acc>>(nbits-5)) & 0x1f
		if p < 16 {
			// A literal.
			var lit uint8
			if lithist&0xf != 0 {
				nbits -= 9
				lit = uint8(acc >> nbits)
			} else {
				nbits -= 8
				v := int(acc>>nbits) & 0x7f
				if v < 32 {
					if v < 24 {
						nbits -= 2
						v = v<<2 | int(acc>>nbits)&3
					} else {
						nbits -= 3
						v = v<<3 | int(acc>>nbits)&7
					}
					v -= 64
				}
				lit = uint8(v)
			}
			if d >= len(dst) {
				return d, errors.New("too much output")
			}
			dst[d] = lit
			d++
			lithist = lithist<<1 | b2u32(lit < 32 || lit > 127)
			continue
		}

		// A match: its length first.
		var n int
		switch {
		case p < 24:
			n = 3
			nbits -= 2
		case p < 28:
			n = 4
			nbits -= 3
		case p == 28:
			n = 5
			nbits -= 5
		case p == 29:
			n = 6
			nbits -= 5
		default:
			nbits -= whackBigLenBits
			code := int(acc>>nbits)&(1<<whackBigLenBits-1) - whackBigLenCode
			n = whackMaxFastLen
			use, alt := 1, 1
			for code >= use {
				n += use
				code -= use
				nbits--
				if nbits < 0 {
					return d, errors.New("len out of range")
				}
				code = code<<1 | int(acc>>nbits)&1
				use <<= alt
				alt ^= 1
			}
			n += code
			refill()
		}

		// Then its offset.
		nbits -= 4
		class := int(acc>>nbits) & 0xf
		off := int(whackOffBase[class])
		nb := int(whackOffBits[class])
		nbits -= nb
		off |= int(acc>>nbits) & (1<<nb - 1)
		off++
		if off > d {
			return d, fmt.Errorf("offset out of range: off=%d d=%d len=%d", off, d, n)
		}
		if n > len(dst)-d {
			return d, errors.New("len out of range")
		}
		// Byte at a time: source and destination may overlap.
		for i := 0; i < n; i++ {
			dst[d+i] = dst[d-off+i]
		}
		d += n
	}
	if nbits < over {
		return d, errOverrun
	}
	return d, nil
}

func b2u32(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}
