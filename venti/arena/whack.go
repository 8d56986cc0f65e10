package arena

import (
	"encoding/binary"
	"math/bits"
	"sync"
)

// The whack compressor, encoding 2 of a clump: LZ77 over a 16 KiB
// window with a hash of the next three bytes and chains of earlier
// positions, written in the bit code unwhack reads (see unwhack.go and
// reference venti.md 3.12). It makes the choices plan9port's whackblock
// makes (src/cmd/venti/srv/whack.c, level 6): the same hash, the same
// 48 chain steps, the same literal code and the same early give-up, so
// a block compresses to the bytes plan9port's venti would store.

const (
	whackMaxOff   = 16 << 10 // the window
	whackHashLog  = 14
	whackHashSize = 1 << whackHashLog
	whackMinMatch = 3
	whackMaxLen   = 2051 // the longest match the length code holds
	whackMaxCheck = 48   // chain steps: level 6 (1<<6 less a quarter)

	wMaxFastLen = 9     // lengths 3..11 have codes of their own
	wBigLenCode = 0x1f4 // the 9-bit prefix of longer lengths
	wBigLenBits = 9
	wBigLenBase = 4

	whackMinOffBits = 6
	whackMaxOffBits = whackMinOffBits + 8
)

// whackLens is the code of each short length less whackMinMatch.
var whackLens = [wMaxFastLen]struct {
	bits uint8
	code uint16
}{
	{2, 0x2}, {3, 0x6}, {5, 0x1c}, {5, 0x1d}, {6, 0x3c},
	{7, 0x7a}, {7, 0x7b}, {8, 0xf8}, {8, 0xf9},
}

// whackState is the dictionary: for each hash, the newest position; for
// each position (mod the window), the one before it with its hash.
// Positions are 16-bit clock values, as in plan9port, starting at
// twice the window so that an empty slot is out of reach.
type whackState struct {
	hash [whackHashSize]uint16
	next [whackMaxOff]uint16
}

var whackPool = sync.Pool{New: func() any { return new(whackState) }}

func whackHash(c uint32) uint32 {
	return ((c & 0xffffff) * 0x6b43a9b5 >> (32 - whackHashLog)) & (whackHashSize - 1)
}

// whack compresses src into dst, which must hold len(src) bytes, and
// returns the compressed size, at most len(src) (a caller stores it
// compressed only if smaller, as venti does); -1 when it would not fit,
// or src is too short to try. Random data is given up on half way
// (as plan9port does, when four fifths of what was read went out as
// literals).
func whack(dst, src []byte) int {
	n := len(src)
	if n < whackMinMatch || len(dst) < n || looksRandom(src) {
		return -1
	}
	w := whackPool.Get().(*whackState)
	defer whackPool.Put(w)
	clear(w.hash[:])
	clear(w.next[:])
	var (
		now     = uint16(2 * whackMaxOff)
		cont    = uint32(src[0])<<16 | uint32(src[1])<<8 | uint32(src[2])
		half    = n >> 1
		bits    uint64 // pending output, the low nbits
		nbits   uint
		out     int
		lits    int
		lithist = ^uint32(0)
		hash    = &w.hash
		next    = &w.next
	)
	// Everything is inline, in locals: this loop is the store's write
	// path for compressible data.
	for s := 0; s < n; {
		h := whackHash(cont)
		off, l := w.match(src, s, h, now)
		// Write the whole bytes pending; dst full means no gain.
		for ; nbits >= 8; nbits -= 8 {
			if out >= n {
				return -1
			}
			dst[out] = byte(bits >> (nbits - 8))
			out++
		}
		if l < whackMinMatch {
			c := src[s]
			lithist = lithist<<1 | b2u32(c < 32 || c > 127)
			switch {
			case lithist&0x1e != 0:
				bits, nbits = bits<<9|uint64(c), nbits+9
			case lithist&1 != 0:
				t := uint64(c+64) & 0xff
				if t < 96 {
					bits, nbits = bits<<10|t, nbits+10
				} else {
					bits, nbits = bits<<11|t, nbits+11
				}
			default:
				bits, nbits = bits<<8|uint64(c), nbits+8
			}
			lits++
			if s > half {
				if 4*s < 5*lits {
					return -1
				}
				half = n
			}
			if s+whackMinMatch <= n {
				next[now&(whackMaxOff-1)] = hash[h]
				hash[h] = now
				if s+whackMinMatch < n {
					cont = cont<<8 | uint32(src[s+whackMinMatch])
				}
			}
			now++
			s++
			continue
		}

		// The length.
		l = min(l, whackMaxLen)
		ln := l - whackMinMatch
		if ln < wMaxFastLen {
			bits, nbits = bits<<whackLens[ln].bits|uint64(whackLens[ln].code), nbits+uint(whackLens[ln].bits)
		} else {
			code, nb, use := uint64(wBigLenCode), uint(wBigLenBits), wBigLenBase
			ln -= wMaxFastLen
			for ln >= use {
				ln -= use
				code = (code + uint64(use)) << 1
				use <<= (nb & 1) ^ 1
				nb++
			}
			bits, nbits = bits<<nb|(code+uint64(ln)), nbits+nb
			for ; nbits >= 8; nbits -= 8 {
				if out >= n {
					return -1
				}
				dst[out] = byte(bits >> (nbits - 8))
				out++
			}
		}

		// The offset: a class of 3 bits (4 for the two largest) and then
		// the offset's low bits, one fewer than its size but for the
		// smallest class.
		toff := uint64(off - 1)
		nb := uint(whackMinOffBits)
		for toff >= 1<<nb {
			nb++
		}
		if nb < whackMaxOffBits-1 {
			bits, nbits = bits<<3|uint64(nb-whackMinOffBits), nbits+3
			if nb != whackMinOffBits {
				nb--
			}
		} else {
			bits, nbits = bits<<4|0xe|uint64(nb-(whackMaxOffBits-1)), nbits+4
			nb--
		}
		bits, nbits = bits<<nb|toff&(1<<nb-1), nbits+nb

		// Every byte of the match goes in the dictionary.
		end := s + l
		if end+whackMinMatch <= n {
			for ; s < end; s++ {
				h := whackHash(cont)
				next[now&(whackMaxOff-1)] = hash[h]
				hash[h] = now
				cont = cont<<8 | uint32(src[s+whackMinMatch])
				now++
			}
			continue
		}
		for ; s < end; s++ {
			if s+whackMinMatch <= n {
				h := whackHash(cont)
				next[now&(whackMaxOff-1)] = hash[h]
				hash[h] = now
				if s+whackMinMatch < n {
					cont = cont<<8 | uint32(src[s+whackMinMatch])
				}
			}
			now++
		}
	}
	if nbits&7 != 0 {
		pad := 8 - nbits&7
		bits <<= pad
		nbits += pad
	}
	for ; nbits >= 8; nbits -= 8 {
		if out >= n {
			return -1
		}
		dst[out] = byte(bits >> (nbits - 8))
		out++
	}
	return out
}

// looksRandom reports whether a block's first KiB holds nearly every
// byte value, as random or already compressed data does (251 of 256 on
// average) and text or structured data does not. whack would give up on
// such a block half way through; this costs a microsecond instead, so
// storing incompressible blocks stays as fast as not compressing.
func looksRandom(src []byte) bool {
	if len(src) < 2048 {
		return false
	}
	var seen [4]uint64
	for _, c := range src[:1024] {
		seen[c>>6] |= 1 << (c & 63)
	}
	n := 0
	for _, w := range seen {
		n += bits.OnesCount64(w)
	}
	return n >= 240
}

// match finds the longest earlier occurrence, within the window, of the
// bytes at s, walking at most whackMaxCheck steps of the chain of
// positions with hash h, and returns its offset and length (length 0
// for none). Bytes are compared eight at a time; the candidates and the
// choice among them are plan9port's.
func (w *whackState) match(src []byte, s int, h uint32, now uint16) (off, length int) {
	esrc := len(src)
	if esrc < s+whackMinMatch {
		return 0, 0
	}
	esrc = min(esrc, s+whackMaxLen)
	head := uint32(src[s]) | uint32(src[s+1])<<8 | uint32(src[s+2])<<16
	// t < s, so the four bytes at t are in src.
	var last uint16
	best, bestOff := 0, 0
	then := w.hash[h]
	for check := whackMaxCheck; check > 0; check-- {
		o := now - then
		if o <= last || o > whackMaxOff {
			break
		}
		t := s - int(o)
		if t < 0 {
			break
		}
		if binary.LittleEndian.Uint32(src[t:])&0xffffff == head &&
			(best == 0 || esrc-s > best && src[s+best] == src[t+best]) {
			if k := 3 + matchLen(src[s+3:esrc], src[t+3:]); k > best {
				best, bestOff = k, int(o)
				if best > whackMaxCheck {
					break
				}
			}
		}
		last = o
		then = w.next[then&(whackMaxOff-1)]
	}
	return bestOff, best
}

// matchLen returns how many bytes a and b have in common from the
// start; b is at least as long as a.
func matchLen(a, b []byte) int {
	n := 0
	for len(a) >= 8 {
		x := binary.LittleEndian.Uint64(a) ^ binary.LittleEndian.Uint64(b)
		if x != 0 {
			return n + bits.TrailingZeros64(x)>>3
		}
		a, b, n = a[8:], b[8:], n+8
	}
	for i := range a {
		if a[i] != b[i] {
			return n + i
		}
	}
	return n + len(a)
}
