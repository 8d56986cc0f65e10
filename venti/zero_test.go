package venti

import (
	"bytes"
	"testing"
)

func TestZeroTruncateExtend(t *testing.T) {
	s := Sum([]byte("x"))
	ptr := append(append(append([]byte{}, s[:]...), ZeroScore[:]...), ZeroScore[:]...)
	for _, tt := range []struct {
		name string
		typ  Type
		in   []byte
		want []byte
	}{
		{"data", DataType, []byte{1, 0, 2, 0, 0}, []byte{1, 0, 2}},
		{"dir", DirType, []byte{0, 0}, []byte{}},
		{"pointer", DataType + 1, ptr, s[:]},
		{"pointer slop", DirType + 2, append(append([]byte{}, ptr...), 1, 2), s[:]},
		{"root kept", RootType, make([]byte, 300), make([]byte, 300)},
		{"root long", RootType, make([]byte, 310), make([]byte, 300)},
	} {
		got := ZeroTruncate(tt.typ, tt.in)
		if !bytes.Equal(got, tt.want) {
			t.Errorf("%s: ZeroTruncate = %x, want %x", tt.name, got, tt.want)
		}
	}
	// Extending restores what truncation removed.
	if got := ZeroExtend(DataType+1, s[:], 60); !bytes.Equal(got, ptr) {
		t.Errorf("pointer extend = %x, want %x", got, ptr)
	}
	if got := ZeroExtend(DataType, []byte{1}, 4); !bytes.Equal(got, []byte{1, 0, 0, 0}) {
		t.Errorf("data extend = %x", got)
	}
	// Slop after the last whole score is zero bytes.
	if got := ZeroExtend(DirType+1, nil, 45); !bytes.Equal(got[40:], make([]byte, 5)) || !bytes.Equal(got[20:40], ZeroScore[:]) {
		t.Errorf("pointer slop extend = %x", got)
	}
}
