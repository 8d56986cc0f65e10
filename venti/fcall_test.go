package venti

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var sc1 = Score{0xc1, 0xe7, 0x38, 0x6e, 0xfe, 0x3d, 0x84, 0x9c, 0x6a, 0xe4, 0xae, 0x6a, 0x6c, 0x1d, 0xaa, 0x49, 0xda, 0xb2, 0x44, 0xfc}

const sc1hex = "c1e7386efe3d849c6ae4ae6a6c1daa49dab244fc"

// fcallTests are every message we send or accept, with its body in hex.
// Byte layouts from plan9port src/libventi/fcall.c; the Thello is the
// one in the fixture captures.
var fcallTests = []struct {
	name string
	f    Fcall
	body string
	text string
}{
	{"Rerror", Fcall{Type: Rerror, Tag: 3, Error: "no"}, "01 03 0002 6e6f", `Rerror tag 3 error "no"`},
	{"Tping", Fcall{Type: Tping, Tag: 1}, "02 01", "Tping tag 1"},
	{"Rping", Fcall{Type: Rping, Tag: 1}, "03 01", "Rping tag 1"},
	{"Thello", Fcall{Type: Thello, Version: "04", Uid: "anonymous"},
		"04 00 0002 3034 0009 616e6f6e796d6f7573 00 00 00",
		`Thello tag 0 version "04" uid "anonymous" strength 0 crypto  codec `},
	{"Thello crypto", Fcall{Type: Thello, Version: "02", Uid: "u", Strength: 2, Crypto: []byte{1, 2}, Codec: []byte{9}},
		"04 00 0002 3032 0001 75 02 02 0102 01 09",
		`Thello tag 0 version "02" uid "u" strength 2 crypto 0102 codec 09`},
	{"Rhello", Fcall{Type: Rhello, Sid: "anonymous"}, "05 00 0009 616e6f6e796d6f7573 00 00",
		`Rhello tag 0 sid "anonymous" rcrypto 0 rcodec 0`},
	{"Tgoodbye", Fcall{Type: Tgoodbye, Tag: 0}, "06 00", "Tgoodbye tag 0"},
	{"Tread data", Fcall{Type: Tread, Tag: 0, Score: sc1, BlockType: DataType, Count: 65535},
		"0c 00" + sc1hex + "0d 00 ffff", "Tread tag 0 score " + sc1hex + " type 0 count 65535"},
	{"Tread root", Fcall{Type: Tread, Tag: 7, Score: sc1, BlockType: RootType, Count: 300},
		"0c 07" + sc1hex + "01 00 012c", "Tread tag 7 score " + sc1hex + " type 16 count 300"},
	{"Tread dir+1 count 4 bytes", Fcall{Type: Tread, Tag: 9, Score: sc1, BlockType: DirType + 1, Count: 65536},
		"0c 09" + sc1hex + "03 00 00010000", "Tread tag 9 score " + sc1hex + " type 9 count 65536"},
	{"Rread", Fcall{Type: Rread, Tag: 2, Data: []byte("abc")}, "0d 02 616263", "Rread tag 2 count 3"},
	{"Rread empty", Fcall{Type: Rread, Tag: 2, Data: []byte{}}, "0d 02", "Rread tag 2 count 0"},
	{"Twrite", Fcall{Type: Twrite, Tag: 4, BlockType: DirType, Data: []byte("xy")}, "0e 04 02 000000 7879",
		"Twrite tag 4 type 8 count 2"},
	{"Rwrite", Fcall{Type: Rwrite, Tag: 4, Score: sc1}, "0f 04" + sc1hex, "Rwrite tag 4 score " + sc1hex},
	{"Tsync", Fcall{Type: Tsync, Tag: 5}, "10 05", "Tsync tag 5"},
	{"Rsync", Fcall{Type: Rsync, Tag: 5}, "11 05", "Rsync tag 5"},
}

func TestFcallBothWays(t *testing.T) {
	for _, tt := range fcallTests {
		want := unhex(t, tt.body)
		got, err := tt.f.Bytes()
		if err != nil {
			t.Errorf("%s: Bytes: %v", tt.name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: Bytes = %x, want %x", tt.name, got, want)
		}
		f, err := UnmarshalFcall(want)
		if err != nil {
			t.Errorf("%s: UnmarshalFcall: %v", tt.name, err)
			continue
		}
		norm := tt.f
		if norm.Type == Thello && len(norm.Crypto) == 0 {
			norm.Crypto, norm.Codec = nil, nil
			f.Crypto, f.Codec = nil, nil
		}
		if tt.f.Data != nil && len(tt.f.Data) == 0 {
			f.Data = []byte{}
		}
		if !reflect.DeepEqual(*f, norm) {
			t.Errorf("%s: UnmarshalFcall = %+v, want %+v", tt.name, *f, norm)
		}
		if s := tt.f.String(); s != tt.text {
			t.Errorf("%s: String = %q, want %q", tt.name, s, tt.text)
		}
	}
}

func TestFraming(t *testing.T) {
	f := &Fcall{Type: Thello, Version: "04", Uid: "anonymous"}
	for _, tt := range []struct {
		version, prefix string
	}{{Version04, "00000014"}, {Version02, "0014"}} {
		var buf bytes.Buffer
		if err := WriteFcall(&buf, tt.version, f); err != nil {
			t.Fatal(err)
		}
		want := unhex(t, tt.prefix+"04 00 0002 3034 0009 616e6f6e796d6f7573 00 00 00")
		if !bytes.Equal(buf.Bytes(), want) {
			t.Errorf("version %s: wrote %x, want %x", tt.version, buf.Bytes(), want)
		}
		g, err := ReadFcall(&buf, tt.version)
		if err != nil {
			t.Fatal(err)
		}
		if g.Uid != "anonymous" || g.Version != "04" {
			t.Errorf("version %s: read back %v", tt.version, g)
		}
	}
	// A body of 64 KiB does not fit 02 framing.
	big := &Fcall{Type: Rread, Data: make([]byte, 1<<16)}
	if err := WriteFcall(new(bytes.Buffer), Version02, big); err == nil {
		t.Error("02 framing of a 64 KiB body succeeded")
	}
	// A frame claiming too much is refused before allocating it.
	if _, err := ReadFcall(bytes.NewReader(unhex(t, "ffffffff0d00")), Version04); !errors.Is(err, ErrBadPacket) {
		t.Errorf("huge frame: %v, want bad packet", err)
	}
}

func TestUnmarshalBad(t *testing.T) {
	for _, tt := range []struct {
		name, body, err string
	}{
		{"empty", "", "bad packet"},
		{"no tag", "02", "bad packet"},
		{"unknown type", "63 00", "bad packet: unknown message type 99"},
		{"Rgoodbye", "07 00", "bad packet: unknown message type 7"},
		{"Tauth0", "08 00", "bad packet: unknown message type 8"},
		{"trailing", "02 00 00", "bad packet"},
		{"short string", "01 00 0005 6162", "bad packet"},
		{"long string", "01 00 0401" + strings.Repeat("61", 1025), "bad packet"},
		{"Tread type 0", "0c 00" + sc1hex + "00 00 ffff", "bad packet: invalid lump type 0"},
		{"Tread type 10", "0c 00" + sc1hex + "0a 00 ffff", "bad packet: invalid lump type 10"},
		{"Tread type 14", "0c 00" + sc1hex + "0e 00 ffff", "bad packet: invalid lump type 14"},
		{"Tread count 3 bytes", "0c 00" + sc1hex + "0d 00 ffffff", "bad packet"},
		{"Tread count 1 byte", "0c 00" + sc1hex + "0d 00 ff", "bad packet"},
		{"Twrite type 12", "0e 00 0c 000000 61", "bad packet: invalid lump type 12"},
		{"Twrite short pad", "0e 00 0d 00", "bad packet"},
		{"Rwrite short", "0f 00 0102", "bad packet"},
		{"Thello short", "04 00 0002 3034 0009 616e6f6e796d6f7573 00 02 01", "bad packet"},
		{"Rhello short", "05 00 0000 00", "bad packet"},
	} {
		_, err := UnmarshalFcall(unhex(t, tt.body))
		if err == nil || err.Error() != tt.err || !errors.Is(err, ErrBadPacket) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.err)
		}
	}
}

func TestUnmarshalLenient(t *testing.T) {
	// plan9port ignores pad bytes and takes a 4-byte count below 65536.
	f, err := UnmarshalFcall(unhex(t, "0c 00"+sc1hex+"0d 77 00000100"))
	if err != nil || f.Count != 256 || f.BlockType != DataType {
		t.Errorf("got %v, %v", f, err)
	}
	f, err = UnmarshalFcall(unhex(t, "0e 00 0d 010203 61"))
	if err != nil || string(f.Data) != "a" {
		t.Errorf("got %v, %v", f, err)
	}
}

func TestBytesRefuses(t *testing.T) {
	for _, f := range []Fcall{
		{Type: Tread, BlockType: MaxType},
		{Type: Tread, BlockType: CorruptType},
		{Type: Twrite, BlockType: 17},
		{Type: Rgoodbye},
		{Type: Tauth0},
		{Type: 99},
		{Type: Rerror, Error: strings.Repeat("x", MaxStringSize+1)},
		{Type: Thello, Crypto: make([]byte, 256)},
	} {
		if b, err := f.Bytes(); err == nil {
			t.Errorf("%v: Bytes = %x, want error", &f, b)
		}
	}
}
