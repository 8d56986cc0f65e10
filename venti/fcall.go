package venti

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Message types (plan9port include/venti.h). Tauth0, Rauth0, Tauth1 and
// Rauth1 are defined there but never implemented; they, like
// Rgoodbye, do not decode.
const (
	Rerror   = 1
	Tping    = 2
	Rping    = 3
	Thello   = 4
	Rhello   = 5
	Tgoodbye = 6
	Rgoodbye = 7
	Tauth0   = 8
	Rauth0   = 9
	Tauth1   = 10
	Rauth1   = 11
	Tread    = 12
	Rread    = 13
	Twrite   = 14
	Rwrite   = 15
	Tsync    = 16
	Rsync    = 17
)

// Protocol limits.
const (
	MaxStringSize = 1024      // VtMaxStringSize: the longest string in a message
	MaxLumpSize   = 56 * 1024 // the largest block a venti server stores
	// MaxMessageSize bounds a message body we accept: a Twrite or Rread of
	// a 64 KiB block, more than any arena can hold (clump sizes are u16).
	MaxMessageSize = 6 + 64*1024
)

// Fcall is one venti message. Which fields are meaningful depends on Type,
// as noted beside each; BlockType is in the in-memory numbering and is
// converted to the wire numbering by Bytes.
type Fcall struct {
	Type uint8
	Tag  uint8

	Error string // Rerror

	Version  string // Thello: the negotiated version, "04" or "02"
	Uid      string // Thello
	Strength uint8  // Thello
	Crypto   []byte // Thello: offered crypto algorithms (send none)
	Codec    []byte // Thello: offered codecs (send none)

	Sid     string // Rhello
	Rcrypto uint8  // Rhello
	Rcodec  uint8  // Rhello

	Score     Score  // Tread, Rwrite
	BlockType Type   // Tread, Twrite
	Count     uint32 // Tread: the largest block the client accepts

	Data []byte // Rread, Twrite
}

// ErrBadPacket is the cause of every decoding error: the bytes are not a
// well-formed venti message.
var ErrBadPacket = errors.New("bad packet")

// Bytes returns the message body as sent on the wire, without the length
// prefix that WriteFcall adds. It fails for a message type that cannot be
// sent, a block type with no wire form and strings over MaxStringSize.
func (f *Fcall) Bytes() ([]byte, error) {
	return f.appendBytes(make([]byte, 0, f.size()))
}

// size is an estimate of the body size, exact for the common messages.
func (f *Fcall) size() int {
	return 2 + 2 + len(f.Error) + len(f.Version) + len(f.Uid) + len(f.Sid) +
		len(f.Crypto) + len(f.Codec) + ScoreSize + 8 + len(f.Data)
}

func (f *Fcall) appendBytes(b []byte) ([]byte, error) {
	b = append(b, f.Type, f.Tag)
	var err error
	switch f.Type {
	default:
		return nil, fmt.Errorf("pack fcall: unknown message type %d", f.Type)
	case Tping, Rping, Tgoodbye, Tsync, Rsync:
	case Rerror:
		b, err = appendString(b, f.Error)
	case Thello:
		if b, err = appendString(b, f.Version); err != nil {
			break
		}
		if b, err = appendString(b, f.Uid); err != nil {
			break
		}
		if len(f.Crypto) > 255 || len(f.Codec) > 255 {
			return nil, fmt.Errorf("pack fcall: too many crypto or codec entries")
		}
		b = append(b, f.Strength, uint8(len(f.Crypto)))
		b = append(b, f.Crypto...)
		b = append(b, uint8(len(f.Codec)))
		b = append(b, f.Codec...)
	case Rhello:
		if b, err = appendString(b, f.Sid); err != nil {
			break
		}
		b = append(b, f.Rcrypto, f.Rcodec)
	case Tread:
		d, ok := f.BlockType.DiskType()
		if !ok {
			return nil, fmt.Errorf("pack fcall: invalid block type %d", f.BlockType)
		}
		b = append(b, f.Score[:]...)
		b = append(b, d, 0)
		if f.Count >= 1<<16 {
			b = binary.BigEndian.AppendUint32(b, f.Count)
		} else {
			b = binary.BigEndian.AppendUint16(b, uint16(f.Count))
		}
	case Rread:
		b = append(b, f.Data...)
	case Twrite:
		d, ok := f.BlockType.DiskType()
		if !ok {
			return nil, fmt.Errorf("pack fcall: invalid block type %d", f.BlockType)
		}
		b = append(b, d, 0, 0, 0)
		b = append(b, f.Data...)
	case Rwrite:
		b = append(b, f.Score[:]...)
	}
	if err != nil {
		return nil, err
	}
	return b, nil
}

func appendString(b []byte, s string) ([]byte, error) {
	if len(s) > MaxStringSize {
		return nil, fmt.Errorf("pack fcall: string too long")
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...), nil
}

// UnmarshalFcall decodes a message body (without its length prefix), with
// plan9port's rules: Tread's count is 2 or 4 bytes, decided by what is
// left; pad bytes are ignored; a block type that decodes to CorruptType,
// a string over MaxStringSize, a short body or trailing bytes make the
// packet bad. Data aliases b.
func UnmarshalFcall(b []byte) (*Fcall, error) {
	f := new(Fcall)
	if err := f.unmarshal(b); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *Fcall) unmarshal(b []byte) error {
	d := decoder{b: b}
	f.Type = d.u8()
	f.Tag = d.u8()
	switch f.Type {
	default:
		if d.err {
			return ErrBadPacket
		}
		return fmt.Errorf("%w: unknown message type %d", ErrBadPacket, f.Type)
	case Tping, Rping, Tgoodbye, Tsync, Rsync:
	case Rerror:
		f.Error = d.str()
	case Thello:
		f.Version = d.str()
		f.Uid = d.str()
		f.Strength = d.u8()
		f.Crypto = d.bytes(int(d.u8()))
		f.Codec = d.bytes(int(d.u8()))
	case Rhello:
		f.Sid = d.str()
		f.Rcrypto = d.u8()
		f.Rcodec = d.u8()
	case Tread:
		copy(f.Score[:], d.bytes(ScoreSize))
		dt := d.u8()
		f.BlockType = FromDiskType(dt)
		d.u8() // pad
		switch {
		case d.err:
		case len(d.b) == 2:
			f.Count = uint32(binary.BigEndian.Uint16(d.bytes(2)))
		case len(d.b) == 4:
			f.Count = binary.BigEndian.Uint32(d.bytes(4))
		default:
			d.err = true
		}
		if f.BlockType == CorruptType && !d.err {
			return fmt.Errorf("%w: invalid lump type %d", ErrBadPacket, dt)
		}
	case Rread:
		f.Data = d.rest()
	case Twrite:
		dt := d.u8()
		f.BlockType = FromDiskType(dt)
		d.bytes(3) // pad
		f.Data = d.rest()
		if f.BlockType == CorruptType && !d.err {
			return fmt.Errorf("%w: invalid lump type %d", ErrBadPacket, dt)
		}
	case Rwrite:
		copy(f.Score[:], d.bytes(ScoreSize))
	}
	if d.err || len(d.b) != 0 {
		return ErrBadPacket
	}
	return nil
}

// decoder consumes a message body; on a short body it sets err and
// yields zeros, so a decode runs to its end and is checked once.
type decoder struct {
	b   []byte
	err bool
}

func (d *decoder) bytes(n int) []byte {
	if d.err || n > len(d.b) {
		d.err = true
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) u8() uint8 {
	p := d.bytes(1)
	if p == nil {
		return 0
	}
	return p[0]
}

func (d *decoder) str() string {
	p := d.bytes(2)
	if p == nil {
		return ""
	}
	n := int(binary.BigEndian.Uint16(p))
	if n > MaxStringSize {
		d.err = true
		return ""
	}
	return string(d.bytes(n))
}

func (d *decoder) rest() []byte {
	p := d.b
	d.b = nil
	return p
}

// frameSize is the width of the length prefix under a protocol version:
// 2 bytes for "02", 4 for "04".
func frameSize(version string) int {
	if version == Version02 {
		return 2
	}
	return 4
}

// ReadFcall reads one framed message under the negotiated version.
func ReadFcall(r io.Reader, version string) (*Fcall, error) {
	b, err := readFrame(r, version, nil)
	if err != nil {
		return nil, err
	}
	return UnmarshalFcall(b)
}

// readFrame reads one length-prefixed body into buf (grown as needed).
func readFrame(r io.Reader, version string, buf []byte) ([]byte, error) {
	var hdr [4]byte
	n := frameSize(version)
	if _, err := io.ReadFull(r, hdr[:n]); err != nil {
		return nil, err
	}
	var size int
	if n == 2 {
		size = int(binary.BigEndian.Uint16(hdr[:2]))
	} else {
		size = int(binary.BigEndian.Uint32(hdr[:4]))
	}
	if size > MaxMessageSize {
		return nil, fmt.Errorf("%w: message of %d bytes too large", ErrBadPacket, size)
	}
	if cap(buf) < size {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
}

// WriteFcall writes f with the length prefix of the negotiated version.
func WriteFcall(w io.Writer, version string, f *Fcall) error {
	b, err := appendFrame(nil, version, f)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// appendFrame appends f, length prefix and body, to b.
func appendFrame(b []byte, version string, f *Fcall) ([]byte, error) {
	n := frameSize(version)
	start := len(b)
	b = append(b, 0, 0, 0, 0)[:start+n]
	b, err := f.appendBytes(b)
	if err != nil {
		return nil, err
	}
	size := len(b) - start - n
	if n == 2 {
		if size >= 1<<16 {
			return nil, fmt.Errorf("pack fcall: message of %d bytes too large for protocol %s", size, version)
		}
		binary.BigEndian.PutUint16(b[start:], uint16(size))
	} else {
		binary.BigEndian.PutUint32(b[start:], uint32(size))
	}
	return b, nil
}

// String returns a one-line text form of f, in the style of plan9port's
// %F (src/libventi/fcallfmt.c), used in traces and tests.
func (f *Fcall) String() string {
	switch f.Type {
	case Rerror:
		return fmt.Sprintf("Rerror tag %d error %q", f.Tag, f.Error)
	case Tping:
		return fmt.Sprintf("Tping tag %d", f.Tag)
	case Rping:
		return fmt.Sprintf("Rping tag %d", f.Tag)
	case Thello:
		return fmt.Sprintf("Thello tag %d version %q uid %q strength %d crypto %x codec %x",
			f.Tag, f.Version, f.Uid, f.Strength, f.Crypto, f.Codec)
	case Rhello:
		return fmt.Sprintf("Rhello tag %d sid %q rcrypto %d rcodec %d", f.Tag, f.Sid, f.Rcrypto, f.Rcodec)
	case Tgoodbye:
		return fmt.Sprintf("Tgoodbye tag %d", f.Tag)
	case Tread:
		return fmt.Sprintf("Tread tag %d score %v type %d count %d", f.Tag, f.Score, f.BlockType, f.Count)
	case Rread:
		return fmt.Sprintf("Rread tag %d count %d", f.Tag, len(f.Data))
	case Twrite:
		return fmt.Sprintf("Twrite tag %d type %d count %d", f.Tag, f.BlockType, len(f.Data))
	case Rwrite:
		return fmt.Sprintf("Rwrite tag %d score %v", f.Tag, f.Score)
	case Tsync:
		return fmt.Sprintf("Tsync tag %d", f.Tag)
	case Rsync:
		return fmt.Sprintf("Rsync tag %d", f.Tag)
	}
	return fmt.Sprintf("%c%d tag %d", "TR"[f.Type&1], f.Type>>1, f.Tag)
}
