package venti

import "testing"

// The mapping table of plan9port src/libventi/dtype.c, written out.
var diskOf = map[Type]uint8{
	0: 13, 1: 3, 2: 4, 3: 5, 4: 6, 5: 7, 6: 8, 7: 9,
	8: 2, 9: 3, 10: 4, 11: 5, 12: 6, 13: 7, 14: 8, 15: 9,
	16: 1,
}

var fromDisk = map[uint8]Type{
	1: 16, 2: 8, 3: 9, 4: 10, 5: 11, 6: 12, 7: 13, 8: 14, 9: 15, 13: 0,
}

func TestDiskType(t *testing.T) {
	for i := 0; i < 256; i++ {
		typ := Type(i)
		d, ok := typ.DiskType()
		want, wantOK := diskOf[typ]
		if ok != wantOK || d != want {
			t.Errorf("Type(%d).DiskType() = %d, %v; want %d, %v", i, d, ok, want, wantOK)
		}
		if ok != typ.Valid() {
			t.Errorf("Type(%d).Valid() = %v", i, typ.Valid())
		}
	}
}

func TestFromDiskType(t *testing.T) {
	for i := 0; i < 256; i++ {
		got := FromDiskType(uint8(i))
		want, ok := fromDisk[uint8(i)]
		if !ok {
			want = CorruptType
		}
		if got != want {
			t.Errorf("FromDiskType(%d) = %d, want %d", i, got, want)
		}
		// Every valid disk type survives the round trip.
		if ok {
			if d, _ := got.DiskType(); d != uint8(i) {
				t.Errorf("disk %d -> %d -> %d", i, got, d)
			}
		}
	}
}

func TestParseType(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Type
		ok   bool
	}{
		{"0", DataType, true}, {"16", RootType, true}, {"8", DirType, true}, {"15", 15, true},
		{"data", DataType, true}, {"dir", DirType, true}, {"root", RootType, true},
		{"data+1", 1, true}, {"data+7", 7, true}, {"dir+1", 9, true}, {"dir+7", 15, true},
		{"pointer0", 9, true}, {"pointer6", 15, true},
		{"17", 0, false}, {"255", 0, false}, {"-1", 0, false}, {"", 0, false},
		{"data+0", 0, false}, {"data+8", 0, false}, {"pointer7", 0, false}, {"bogus", 0, false},
	} {
		got, err := ParseType(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("ParseType(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestTypeName(t *testing.T) {
	for typ, want := range map[Type]string{0: "data", 3: "data+3", 8: "dir", 9: "dir+1", 16: "root", 17: "corrupt(17)"} {
		if got := typ.Name(); got != want {
			t.Errorf("Type(%d).Name() = %q, want %q", typ, got, want)
		}
		if typ < MaxType {
			if back, err := ParseType(typ.Name()); err != nil || back != typ {
				t.Errorf("ParseType(%q) = %d, %v", typ.Name(), back, err)
			}
		}
	}
}

func TestDepth(t *testing.T) {
	for typ, want := range map[Type]int{0: 0, 1: 1, 7: 7, 8: 0, 10: 2, 16: 0} {
		if got := typ.Depth(); got != want {
			t.Errorf("Type(%d).Depth() = %d, want %d", typ, got, want)
		}
	}
}
