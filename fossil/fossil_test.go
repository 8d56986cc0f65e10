package fossil

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"replfs/venti"
	"replfs/venti/arena"
	"replfs/venti/ventitest"
)

func TestLastFixtures(t *testing.T) {
	dir := ventitest.Fixtures(t, "fossil")
	for _, tt := range []struct{ part, want string }{
		{"fossil.part", "last.txt"},
		{"fossil-v.part", "last-v.txt"},
	} {
		b, err := os.ReadFile(filepath.Join(dir, tt.want))
		if err != nil {
			t.Fatal(err)
		}
		// The file holds the command, its output, and rc.
		var want string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "vac:") {
				want = l
			}
		}
		s, err := Last(filepath.Join(dir, tt.part))
		if err != nil {
			t.Fatal(err)
		}
		if got := "vac:" + s.String(); got != want {
			t.Errorf("%s: last %s, want %s", tt.part, got, want)
		}
	}
	_, s, _ := ReadSuper(filepath.Join(dir, "fossil-v.part"))
	if s.Last != venti.ZeroScore || s.Archiving() || s.Active != 1 {
		t.Errorf("fossil-v.part super %+v", s)
	}
	if _, err := Last(filepath.Join(ventitest.Fixtures(t, "venti"), "bloom.part")); !errors.Is(err, ErrNotFossil) {
		t.Errorf("last of a non-fossil: %v", err)
	}
}

// fixtureVenti opens a copy of the fixture arenas as a store.
func fixtureVenti(t *testing.T) *arena.Store {
	t.Helper()
	dst := ventitest.CopyFixture(t, "venti", "arenas.part", filepath.Join(t.TempDir(), "arenas.part"))
	s, err := arena.Open(context.Background(), []string{dst}, arena.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestFormatVFixture: our flfmt -v of the fixture's last archive, on a
// fresh 8 MiB file, equals plan9port's fossil-v.part but for the random
// tag: in block 0's label and in the root's local entry.
func TestFormatVFixture(t *testing.T) {
	dir := ventitest.Fixtures(t, "fossil")
	want, err := os.ReadFile(filepath.Join(dir, "fossil-v.part"))
	if err != nil {
		t.Fatal(err)
	}
	store := fixtureVenti(t)
	part := filepath.Join(t.TempDir(), "fossil.part")
	os.WriteFile(part, nil, 0600)
	os.Truncate(part, 8<<20)
	score, _ := venti.ParseScore("0842818bc4e6acc5ed5ca517cb45cb760844e9ed")
	if err := FormatV(context.Background(), part, store, score, FormatOptions{}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(part)
	h, _, err := ReadSuper(part)
	if err != nil {
		t.Fatal(err)
	}
	bs := int64(h.BlockSize)
	tags := map[int64]bool{}
	for i := int64(0); i < 4; i++ {
		tags[int64(h.Label)*bs+10+i] = true  // block 0's label tag
		tags[int64(h.Data+1)*bs+32+i] = true // the root entry's tag
	}
	var diff []int64
	for i := range want {
		if got[i] != want[i] {
			diff = append(diff, int64(i))
		}
	}
	for _, off := range diff {
		if !tags[off] {
			t.Errorf("byte %d (%#x) differs: ours %#x, plan9port's %#x", off, off, got[off], want[off])
		}
	}
	t.Logf("%d bytes differ, all in the two tag fields (label at %#x, entry at %#x)", len(diff),
		int64(h.Label)*bs+10, int64(h.Data+1)*bs+32)
	if len(got) != len(want) {
		t.Errorf("size %d, want %d", len(got), len(want))
	}
	// Both tags are the same number.
	if !bytes.Equal(got[int64(h.Label)*bs+10:][:4], got[int64(h.Data+1)*bs+32:][:4]) {
		t.Error("label and entry tags differ")
	}

	// A partition in use is refused without Force; a non-fossil root is
	// refused and leaves the partition as it was.
	if err := FormatV(context.Background(), part, store, score, FormatOptions{}); !errors.Is(err, ErrInUse) {
		t.Errorf("second format: %v", err)
	}
	root1, _ := venti.ParseScore("1c94de5d65de1a7370e6f1dc43e345c0ea721fab")
	before, _ := os.ReadFile(part)
	err = FormatV(context.Background(), part, store, root1, FormatOptions{Force: true})
	if err == nil || !strings.Contains(err.Error(), `not a fossil archive root (name "", type "vac")`) {
		t.Errorf("vac root: %v", err)
	}
	if after, _ := os.ReadFile(part); !bytes.Equal(before, after) {
		t.Error("a refused format changed the partition")
	}
	if err := FormatV(context.Background(), part, store, venti.Sum([]byte("nope")), FormatOptions{Force: true}); !venti.IsNotFound(err) {
		t.Errorf("missing root: %v", err)
	}
}

// TestFormatRefuses: flfmt -v formats only a fossil partition or a file
// of zeros where it writes; anything else is refused, named, and left
// as it was, however the archive would have read.
func TestFormatRefuses(t *testing.T) {
	store := fixtureVenti(t)
	score, _ := venti.ParseScore("0842818bc4e6acc5ed5ca517cb45cb760844e9ed")
	dir := t.TempDir()
	text := []byte(strings.Repeat("All work and no play makes Jack a dull boy.\n", 2<<20/44))
	data := make([]byte, 2<<20)
	for i := range data {
		data[i] = byte(i*7 + i>>9)
	}
	early := make([]byte, 2<<20) // text only before the fossil's regions
	copy(early, text[:100<<10])
	arenas := ventitest.CopyFixture(t, "venti", "arenas.part", filepath.Join(dir, "arenas.part"))
	small := filepath.Join(dir, "small.part") // a 2 MiB arena partition: blank where flfmt writes
	os.WriteFile(small, nil, 0600)
	os.Truncate(small, 2<<20)
	if _, err := arena.Format(small, arena.FormatOptions{ArenaSize: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		content []byte
		path    string
		holds   string
	}{
		{"text", text, "", "text"},
		{"data", data, "", "data"},
		{"arenas", nil, arenas, "a venti arena partition"},
		{"small arenas", nil, small, "a venti arena partition"},
		{"early text", early, "", ""},
		{"zeros", make([]byte, 2<<20), "", ""},
	} {
		part := tt.path
		if part == "" {
			part = filepath.Join(dir, tt.name)
			os.WriteFile(part, tt.content, 0600)
		}
		before, _ := os.ReadFile(part)
		err := CheckFormat(part, 0)
		if tt.holds == "" {
			if err != nil {
				t.Errorf("%s: CheckFormat: %v", tt.name, err)
			}
			continue
		}
		want := part + ": not a fossil partition (holds " + tt.holds + ")"
		if err == nil || err.Error() != want || !errors.Is(err, ErrNotFossil) {
			t.Errorf("%s: CheckFormat: %v, want %s", tt.name, err, want)
		}
		if err := FormatV(context.Background(), part, store, score, FormatOptions{Force: true}); err == nil || err.Error() != want {
			t.Errorf("%s: FormatV: %v, want %s", tt.name, err, want)
		}
		if _, _, err := ReadSuper(part); err == nil || err.Error() != want {
			t.Errorf("%s: ReadSuper: %v, want %s", tt.name, err, want)
		}
		if after, _ := os.ReadFile(part); !bytes.Equal(before, after) {
			t.Errorf("%s: changed", tt.name)
		}
	}
	// A fossil partition passes, and a file of zeros formats.
	if err := CheckFormat(filepath.Join(ventitest.Fixtures(t, "fossil"), "fossil.part"), 0); err != nil {
		t.Errorf("fossil partition: %v", err)
	}
	if err := FormatV(context.Background(), filepath.Join(dir, "zeros"), store, score, FormatOptions{}); err != nil {
		t.Errorf("zeros: %v", err)
	}
}
