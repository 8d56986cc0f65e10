package rootscor

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"replfs/venti"
	"replfs/venti/ventitest"
)

// logText returns a log of n records.
func logText(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		r := rec(i % 250)
		r.Fsname = fmt.Sprintf("fs%d", i)
		b.WriteString(r.String() + "\n")
	}
	return b.Bytes()
}

func TestWriteReadLog(t *testing.T) {
	ctx := context.Background()
	m := ventitest.NewMemStore()
	prev := venti.Score{}
	// Empty, one block, a block and a bit, depth 1, depth 2 (more than
	// 409 blocks of 8192).
	for _, n := range []int{0, 1, 8192, 8193, 100 << 10, 4 << 20} {
		log := logText(n/100 + 1)[:n]
		s, err := WriteLog(ctx, m, log, prev)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		rb, err := m.Read(ctx, s, venti.RootType, venti.RootSize)
		if err != nil {
			t.Fatal(err)
		}
		root, err := venti.UnpackRoot(rb)
		if err != nil {
			t.Fatal(err)
		}
		if root.Type != "replfs" || root.Name != "rootscor" || root.Prev != prev || root.BlockSize != 8192 {
			t.Errorf("%d bytes: root %+v", n, root)
		}
		got, err := ReadLog(ctx, m, s)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if !bytes.Equal(got, log) {
			t.Fatalf("%d bytes: read back %d bytes, differing", n, len(got))
		}
		// The same archive as vac sees it, through the vac root.
		vs, err := VacRoot(rb)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := ReadLog(ctx, m, vs); err != nil || !bytes.Equal(got, log) {
			t.Fatalf("%d bytes: through the vac root: %v", n, err)
		}
		top, err := venti.OpenVac(ctx, m, vs)
		if err != nil {
			t.Fatal(err)
		}
		files, err := top.ReadDir(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(files) != 1 || files[0].Dir.Elem != "rootscor" || files[0].Size != uint64(n) || files[0].IsDir() {
			t.Fatalf("%d bytes: vac archive holds %+v", n, files)
		}
		var b bytes.Buffer
		if _, err := files[0].Data().WriteTo(ctx, &b); err != nil || !bytes.Equal(b.Bytes(), log) {
			t.Fatalf("%d bytes: vac file: %v", n, err)
		}
		prev = s
	}
}

func TestReadLogHostile(t *testing.T) {
	ctx := context.Background()
	m := ventitest.NewMemStore()
	good, err := WriteLog(ctx, m, logText(300), venti.Score{})
	if err != nil {
		t.Fatal(err)
	}
	// root writes a root over an entry e.
	root := func(typ, name string, e venti.Entry) venti.Score {
		eb := make([]byte, venti.EntrySize)
		if err := e.Pack(eb); err != nil {
			t.Fatal(err)
		}
		ds, _ := m.Write(ctx, venti.DirType, eb)
		rb, _ := venti.Root{Name: name, Type: typ, Score: ds, BlockSize: 8192}.Pack()
		s, _ := m.Write(ctx, venti.RootType, rb)
		return s
	}
	data, _ := m.Write(ctx, venti.DataType, []byte("hello\n"))
	ok := venti.Entry{Psize: 8180, Dsize: 8192, Type: venti.DataType, Flags: venti.EntryActive, Size: 6, Score: data}
	if got, err := ReadLog(ctx, m, root("replfs", "rootscor", ok)); err != nil || string(got) != "hello\n" {
		t.Fatalf("hand-made log: %q %v", got, err)
	}
	big, small, huge, dir := ok, ok, ok, ok
	big.Psize, big.Dsize = 1<<20, 1<<20
	small.Psize = 256
	small.Dsize = 256
	small.Size = MaxLogSize + 1
	huge.Size = 1 << 40
	dir.Type = venti.DirType
	missing := venti.Sum([]byte("missing"))
	for _, tt := range []struct {
		name  string
		score venti.Score
		err   string
	}{
		{"vac root", root("vac", "", ok), "not a root score log (type \"vac\" name \"\")"},
		{"other name", root("replfs", "other", ok), "not a root score log"},
		{"big blocks", root("replfs", "rootscor", big), "block sizes 1048576/1048576"},
		{"too long", root("replfs", "rootscor", small), "more than 67108864"},
		{"huge", root("replfs", "rootscor", huge), "more than 67108864"},
		{"dir stream", root("replfs", "rootscor", dir), "not an active data stream"},
		{"missing", missing, "no block with score"},
		{"not a root", data, "no block with score"},
	} {
		_, err := ReadLog(ctx, m, tt.score)
		if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.HasPrefix(err.Error(), "read root score log ") {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.err)
		}
	}
	// A vac archive whose metadata claims a terabyte.
	three := func(es ...venti.Entry) venti.Score {
		eb := make([]byte, 3*venti.EntrySize)
		for i, e := range es {
			if err := e.Pack(eb[i*venti.EntrySize:]); err != nil {
				t.Fatal(err)
			}
		}
		ds, _ := m.Write(ctx, venti.DirType, eb)
		rb, _ := venti.Root{Name: "rootscor", Type: "replfs", Score: ds, BlockSize: 8192}.Pack()
		s, _ := m.Write(ctx, venti.RootType, rb)
		return s
	}
	dirs := ok
	dirs.Type = venti.DirType
	if _, err := ReadLog(ctx, m, three(dirs, huge, ok)); err == nil || !strings.Contains(err.Error(), "bad root directory entry") {
		t.Errorf("huge metadata: %v", err)
	}
	if _, err := ReadLog(ctx, m, three(dirs, ok, ok)); err == nil || !strings.Contains(err.Error(), "meta block") {
		t.Errorf("metadata that is not: %v", err)
	}
	// A missing data block below the root.
	m.Delete(data, venti.DataType)
	if _, err := ReadLog(ctx, m, root("replfs", "rootscor", ok)); !venti.IsNotFound(err) {
		t.Errorf("missing data: %v", err)
	}
	if _, err := ReadLog(ctx, m, good); err != nil {
		t.Errorf("good log: %v", err)
	}
	if _, err := WriteLog(ctx, m, make([]byte, MaxLogSize+1), venti.Score{}); err == nil {
		t.Error("WriteLog of more than MaxLogSize: no error")
	}
}
