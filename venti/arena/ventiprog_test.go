package arena

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"replfs/venti"
	"replfs/venti/ventitest"
)

func TestCursorText(t *testing.T) {
	c := Cursor{"arenas00": {0x3f7614, true}, "arenas01": {0x12156, false}, "arenas010": {0, false}}
	text := string(c.Marshal())
	want := "# replfs ventiprog cursor: arena, clump log offset copied, done once sealed and complete\n" +
		"arenas00 0x3f7614 done\narenas01 0x12156\narenas010 0x0\n"
	if text != want {
		t.Errorf("Marshal:\n%s\nwant\n%s", text, want)
	}
	back, err := ParseCursor([]byte(text))
	if err != nil || !reflect.DeepEqual(back, c) {
		t.Errorf("ParseCursor: %v %v", back, err)
	}
	for _, bad := range []string{"a", "a b", "a 0x1 finished", "a -1", "a 1 done x"} {
		if _, err := ParseCursor([]byte(bad)); err == nil {
			t.Errorf("ParseCursor(%q) succeeded", bad)
		}
	}
	path := filepath.Join(t.TempDir(), "cursor")
	if c0, err := LoadCursor(path); err != nil || len(c0) != 0 {
		t.Errorf("missing cursor: %v %v", c0, err)
	}
	if err := SaveCursor(path, c); err != nil {
		t.Fatal(err)
	}
	if c1, err := LoadCursor(path); err != nil || !reflect.DeepEqual(c1, c) {
		t.Errorf("LoadCursor: %v %v", c1, err)
	}
}

func FuzzParseCursor(f *testing.F) {
	f.Add([]byte("arenas00 0x3f7614 done\narenas01 0x12156\n"))
	f.Add([]byte("# c\n\nx 010\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCursor(b)
		if err != nil {
			return
		}
		c2, err := ParseCursor(c.Marshal())
		if err != nil || !reflect.DeepEqual(c, c2) {
			t.Fatalf("round trip %v -> %v %v", c, c2, err)
		}
	})
}

func TestParseWrCmd(t *testing.T) {
	for _, tt := range []struct {
		line string
		want WrCmdLine
		ok   bool
	}{
		{"wrarena -h tcp!192.168.1.123!17034 -o 537665536 /dev/sdC0/arenas 0x12224578",
			WrCmdLine{"tcp!192.168.1.123!17034", 537665536, "/dev/sdC0/arenas", 0x12224578}, true},
		{"venti/wrarena -o 794624 /dev/sdF0/arenas 0x0", WrCmdLine{"", 794624, "/dev/sdF0/arenas", 0}, true},
		{"/bin/venti/wrarena -v -h tcp!127.1!17034 -o 0x2000 arenas.part", WrCmdLine{"tcp!127.1!17034", 0x2000, "arenas.part", 0}, true},
		{"wrarena arenas.part 0100", WrCmdLine{"", 0, "arenas.part", 64}, true},
		{"rdarena x y", WrCmdLine{}, false},
		{"wrarena -o", WrCmdLine{}, false},
		{"wrarena -o x p", WrCmdLine{}, false},
		{"wrarena -q p", WrCmdLine{}, false},
		{"wrarena", WrCmdLine{}, false},
		{"wrarena p 0x1 extra", WrCmdLine{}, false},
		{"wrarena p zz", WrCmdLine{}, false},
	} {
		got, err := ParseWrCmd(tt.line)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseWrCmd(%q) = %+v, %v", tt.line, got, err)
		}
	}
}

func TestWrCmdFixture(t *testing.T) {
	p, _ := fixturePart(t)
	parts := []*Partition{p}
	w, err := ParseWrCmd("wrarena -h tcp!backup!17034 -o 4988928 /dev/sdC0/arenas 0x12156")
	if err != nil {
		t.Fatal(err)
	}
	cur, err := ImportWrCmd(parts, nil, w)
	if err != nil {
		t.Fatal(err)
	}
	want := Cursor{"arenas00": {4158996, true}, "arenas01": {0x12156, false}}
	if !reflect.DeepEqual(cur, want) {
		t.Errorf("imported %v, want %v", cur, want)
	}
	if got := WrCmd(parts, cur, "tcp!backup!17034"); got != "wrarena -h tcp!backup!17034 -o 4988928 "+p.Name()+" 0x12156" {
		t.Errorf("WrCmd = %q", got)
	}
	if got := WrCmd(parts, nil, "tcp!b!1"); got != "wrarena -h tcp!b!1 -o 794624 "+p.Name()+" 0x0" {
		t.Errorf("WrCmd of empty cursor = %q", got)
	}
	if _, err := ImportWrCmd(parts, nil, WrCmdLine{Start: 12345}); err == nil {
		t.Error("import of an offset no arena starts at succeeded")
	}
	target, cur, err := ImportBkupInfo(parts, nil, "venti=tcp!backup!17034\n# Sat Nov 21\narenas00=0x100\n# later\narenas00=0x3f7614\narenas01='0x12156'\n")
	if err != nil || target != "tcp!backup!17034" || !reflect.DeepEqual(cur, Cursor{"arenas00": {0x3f7614, false}, "arenas01": {0x12156, false}}) {
		t.Errorf("bkup.info: %q %v %v", target, cur, err)
	}
	if _, _, err := ImportBkupInfo(parts, nil, "arenas99=0x1\n"); err == nil {
		t.Error("bkup.info naming a missing arena accepted")
	}
}

// TestCopyArenasFixture copies the fixture's arenas into a MemStore:
// every clump arrives, the cursor ends at each arena's end with the
// sealed one done, and a second run sends nothing.
func TestCopyArenasFixture(t *testing.T) {
	p, _ := fixturePart(t)
	parts := []*Partition{p}
	dst := ventitest.NewMemStore()
	ctx := context.Background()
	var commits []Cursor
	opts := CopyOptions{Checkpoint: 1 << 20, Commit: func(c Cursor) error { commits = append(commits, c); return nil }}

	want := Cursor{"arenas00": {4158996, true}, "arenas01": {2547997, false}}
	dry, st, err := CopyArenas(ctx, parts, nil, dst, CopyOptions{DryRun: true})
	if err != nil || st.Clumps != 941 || st.Arenas != 2 || !reflect.DeepEqual(dry, want) || dst.Len() != 0 || dst.Syncs() != 0 {
		t.Fatalf("dry run: %+v %v %v, store %d", st, dry, err, dst.Len())
	}
	cur, st, err := CopyArenas(ctx, parts, nil, dst, opts)
	if err != nil {
		t.Fatal(err)
	}
	if st.Clumps != 941 || st.Arenas != 2 || st.Corrupt != 0 || st.Bytes != 4201745+2668359 {
		t.Errorf("stats %+v", st)
	}
	if !reflect.DeepEqual(cur, want) {
		t.Errorf("cursor %v, want %v", cur, want)
	}
	if len(commits) < 6 || !reflect.DeepEqual(commits[len(commits)-1], want) {
		t.Errorf("%d commits, last %v", len(commits), commits[len(commits)-1])
	}
	// Every clump is on the target, and it was synced.
	for _, a := range p.Arenas {
		a.Scan(ctx, 0, func(cl *Clump) error {
			if !dst.Has(cl.Score, cl.Type) {
				t.Errorf("%s %#x not copied", a.Name, cl.Offset)
			}
			return nil
		})
	}
	if dst.Syncs() < len(commits) {
		t.Errorf("%d syncs for %d commits", dst.Syncs(), len(commits))
	}
	// Nothing new: nothing sent.
	_, st, err = CopyArenas(ctx, parts, cur, dst, opts)
	if err != nil || st.Clumps != 0 {
		t.Errorf("second run: %+v %v", st, err)
	}
	// From wrarena's middle offset: the 412 clumps of arenas01.
	_, st, err = CopyArenas(ctx, parts, Cursor{"arenas00": {0, true}, "arenas01": {0x12156, false}}, ventitest.NewMemStore(), opts)
	if err != nil || st.Clumps != 412 || st.Arenas != 1 || st.Offset != 0x26e11d {
		t.Errorf("from 0x12156: %+v %v", st, err)
	}
}

// failStore refuses writes after n of them.
type failStore struct {
	*ventitest.MemStore
	n int
}

func (f *failStore) Write(ctx context.Context, t venti.Type, data []byte) (venti.Score, error) {
	if f.n <= 0 {
		return venti.Score{}, errors.New("no space left in arenas")
	}
	f.n--
	return f.MemStore.Write(ctx, t, data)
}

// TestCopyArenasFailure: a target that fails keeps the last committed
// cursor, which counts only clumps it has.
func TestCopyArenasFailure(t *testing.T) {
	p, _ := fixturePart(t)
	dst := &failStore{ventitest.NewMemStore(), 700}
	ctx := context.Background()
	var last Cursor
	cur, st, err := CopyArenas(ctx, []*Partition{p}, nil, dst, CopyOptions{Window: 1, Checkpoint: 256 << 10,
		Commit: func(c Cursor) error { last = c; return nil }})
	if err == nil || !strings.Contains(err.Error(), "arena arenas01: write: no space left in arenas") {
		t.Fatalf("err %v", err)
	}
	if !reflect.DeepEqual(cur, last) || cur["arenas01"].Offset == 0 || !cur["arenas00"].Done {
		t.Errorf("cursor %v, last commit %v", cur, last)
	}
	// Everything below the committed cursor is on the target.
	p.Arena("arenas01").Scan(ctx, 0, func(cl *Clump) error {
		if cl.Offset < cur["arenas01"].Offset && !dst.Has(cl.Score, cl.Type) {
			t.Errorf("clump %#x below the cursor is missing", cl.Offset)
		}
		return nil
	})
	t.Logf("failed after %d clumps; cursor %v", st.Clumps, cur)
}

// sealEmpty marks the first n arenas of a partition sealed with no
// clumps, so a Store writes past them: a way to put data deep into a
// large partition without writing gigabytes.
func sealEmpty(t *testing.T, path string, n int) {
	t.Helper()
	p, err := openPartition(path, true)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, a := range p.Arenas[:n] {
		b := make([]byte, a.BlockSize)
		packArena(trailer{version: uint32(a.Version), name: a.Name, clumpMagic: a.ClumpMagic,
			disk: Stats{Sealed: true}, mem: Stats{Sealed: true}}, b)
		if _, err := p.f.WriteAt(b, a.trailerOffset()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCopyArenasLarge: two partitions, the first over 2 GiB with arenas
// numbered past 10 holding data beyond 2 GiB; everything is copied, and
// the cursor and wrcmd carry offsets past 2^31.
func TestCopyArenasLarge(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.part")
	small := filepath.Join(dir, "small.part")
	for _, f := range []struct {
		path   string
		size   int64
		arena  int64
		prefix string
	}{{big, 2500 << 20, 100 << 20, "arenas0"}, {small, 40 << 20, 8 << 20, "other"}} {
		fd, _ := os.Create(f.path)
		fd.Truncate(f.size)
		fd.Close()
		if _, err := Format(f.path, FormatOptions{ArenaSize: f.arena, NamePrefix: f.prefix}); err != nil {
			t.Fatal(err)
		}
	}
	sealEmpty(t, big, 22) // arenas00..arenas021: the next starts past 2 GiB
	ctx := context.Background()
	s, err := Open(ctx, []string{big, small}, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a := s.arenas[s.cur]; a.Name != "arenas022" || a.Start < 1<<31 {
		t.Fatalf("writing into %s at %d", a.Name, a.Start)
	}
	for i := range 300 {
		s.Write(ctx, venti.DataType, block(i, 8192))
	}
	s.Close()
	var parts []*Partition
	for _, path := range []string{big, small} {
		p, err := OpenPartition(path)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		parts = append(parts, p)
	}
	dst := ventitest.NewMemStore()
	cur, st, err := CopyArenas(ctx, parts, nil, dst, CopyOptions{})
	if err != nil || st.Clumps != 300 || dst.Len() != 300 {
		t.Fatalf("copy: %+v %v, %d blocks", st, err, dst.Len())
	}
	if !cur["arenas021"].Done || cur["arenas022"].Offset != 300*(ClumpSize+8192) {
		t.Errorf("cursor %v", cur)
	}
	w := WrCmd(parts, cur, "tcp!b!17034")
	want := fmt.Sprintf("wrarena -h tcp!b!17034 -o %d %s %#x", parts[0].Arena("arenas022").Start, big, 300*(ClumpSize+8192))
	if w != want {
		t.Errorf("WrCmd = %q, want %q", w, want)
	}
	// The other partition's arenas are in the cursor too, after a write.
	s, _ = Open(ctx, []string{big, small}, StoreOptions{})
	s.mu.Lock()
	for s.cur < len(s.arenas) && s.arenas[s.cur].part.Name() != small {
		s.sealLocked(s.arenas[s.cur])
		s.cur++
	}
	s.mu.Unlock()
	for i := 300; i < 310; i++ {
		s.Write(ctx, venti.DataType, block(i, 8192))
	}
	s.Close()
	parts[0].Close()
	parts[1].Close()
	parts = parts[:0]
	for _, path := range []string{big, small} {
		p, _ := OpenPartition(path)
		defer p.Close()
		parts = append(parts, p)
	}
	cur, st, err = CopyArenas(ctx, parts, cur, dst, CopyOptions{})
	if err != nil || st.Clumps != 10 || cur["other0"].Offset == 0 || !cur["arenas022"].Done {
		t.Errorf("second copy: %+v %v %v", st, cur, err)
	}
}

// TestCopyArenasStop: closing Stop ends a copy cleanly: what was sent is
// synced and committed, and everything below the cursor is there.
func TestCopyArenasStop(t *testing.T) {
	p, _ := fixturePart(t)
	dst := ventitest.NewMemStore()
	stop := make(chan struct{})
	var once bool
	cur, _, err := CopyArenas(context.Background(), []*Partition{p}, nil, dst, CopyOptions{
		Progress: func(pr Progress) {
			if pr.Clumps >= 600 && !once {
				once = true
				close(stop)
			}
		},
		Stop: stop,
	})
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("err %v", err)
	}
	off := cur["arenas01"].Offset
	if !cur["arenas00"].Done || off == 0 {
		t.Fatalf("cursor %v", cur)
	}
	n := 0
	p.Arena("arenas01").Scan(context.Background(), 0, func(cl *Clump) error {
		if cl.Offset < off {
			n++
			if !dst.Has(cl.Score, cl.Type) {
				t.Errorf("clump %#x below the cursor missing", cl.Offset)
			}
		}
		return nil
	})
	if n < 600-520 || dst.Syncs() == 0 {
		t.Errorf("%d clumps of arenas01 below the cursor, %d syncs", n, dst.Syncs())
	}
}

// TestCopyArenasCorrupt: a damaged clump is skipped, counted, and the
// first named (arena and offset) in the stats, dry run or not.
func TestCopyArenasCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "arenas.part")
	ventitest.CopyFixture(t, "venti", "arenas.part", path)
	p, err := OpenPartition(path)
	if err != nil {
		t.Fatal(err)
	}
	a := p.Arenas[1]
	f, _ := os.OpenFile(path, os.O_RDWR, 0)
	f.WriteAt([]byte("XXXXXXXX"), a.Base()+ClumpSize+16) // the first clump's data
	f.Close()
	p.Close()
	p, _ = OpenPartition(path)
	defer p.Close()
	dst := ventitest.NewMemStore()
	_, st, err := CopyArenas(context.Background(), []*Partition{p}, nil, dst, CopyOptions{})
	if err != nil || st.Corrupt != 1 || st.Clumps != 940 || st.FirstCorrupt == nil ||
		!strings.HasPrefix(st.FirstCorrupt.Error(), "arena arenas01: clump 0x0 ") {
		t.Errorf("copy: %+v %v", st, err)
	}
	if dst.Len() != 940 {
		t.Errorf("target has %d blocks", dst.Len())
	}
	if _, st, _ := CopyArenas(context.Background(), []*Partition{p}, nil, nil, CopyOptions{DryRun: true}); st.FirstCorrupt != nil {
		t.Errorf("dry run of a clump only the data shows corrupt: %v", st.FirstCorrupt)
	}
}
