package rootscor

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"replfs/venti"
)

func rec(i int) Record {
	return Record{
		Score:     venti.Sum([]byte{byte(i)}),
		Partition: "/dev/sdC0/fossil",
		Venti:     "tcp!127.1!17034",
		Fsname:    "main",
		Time:      time.Date(2026, 11, 21, 12, 0, i, 0, time.UTC),
	}
}

func TestAppendReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rootscor")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := l.Append(rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0600 {
		t.Errorf("mode %v, want 0600", st.Mode())
	}
	l, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if got := l.Records(); !reflect.DeepEqual(got, []Record{rec(0), rec(1), rec(2)}) {
		t.Errorf("records %v", got)
	}
	want := "vac:" + rec(0).Score.String() + " /dev/sdC0/fossil tcp!127.1!17034 main 2026-11-21T12:00:00Z\n"
	if got := string(l.Bytes()); got[:len(want)] != want {
		t.Errorf("first line %q, want %q", got[:len(want)], want)
	}
	if err := l.Append(Record{Partition: "a b"}); err == nil {
		t.Error("a blank in a field was accepted")
	}
}

// TestTruncation cuts the log at every byte and reopens it: every
// record whose newline survived is there, nothing else appears, and
// appending afterwards works.
func TestTruncation(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full")
	l, _ := Open(full)
	for i := range 4 {
		l.Append(rec(i))
	}
	l.Close()
	data, _ := os.ReadFile(full)
	var ends []int // offset just past each record's newline
	for i, c := range data {
		if c == '\n' {
			ends = append(ends, i+1)
		}
	}
	for cut := 0; cut <= len(data); cut++ {
		p := filepath.Join(dir, "cut")
		os.WriteFile(p, data[:cut], 0600)
		l, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for n < len(ends) && ends[n] <= cut {
			n++
		}
		got := l.Records()
		if len(got) != n || (n > 0 && !reflect.DeepEqual(got[n-1], rec(n-1))) {
			t.Fatalf("cut at %d: %d records, want %d", cut, len(got), n)
		}
		if err := l.Append(rec(9)); err != nil {
			t.Fatal(err)
		}
		l.Close()
		l, _ = Open(p)
		if got := l.Records(); len(got) != n+1 || got[n] != rec(9) {
			t.Fatalf("cut at %d: after append, %d records", cut, len(got))
		}
		l.Close()
	}
}

// TestOldFormats: logs written by the ANTS scripts (three fields,
// wrarena lines mixed in) and by version 1 of this package read.
func TestOldFormats(t *testing.T) {
	for _, name := range []string{"ants-rootscor", "v1-rootscor"} {
		l, err := Open(copyTestdata(t, name))
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Records()) != 2 {
			t.Errorf("%s: %d records", name, len(l.Records()))
		}
		l.Close()
	}
}

func copyTestdata(t *testing.T, name string) string {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	os.WriteFile(p, b, 0600)
	return p
}

func FuzzRootscorReplay(f *testing.F) {
	f.Add([]byte("vac:0842818bc4e6acc5ed5ca517cb45cb760844e9ed fossil.part tcp!127.0.0.1!17040 main 2026-11-21T21:30:00Z\nvac:"))
	f.Add([]byte("wrarena -h tcp!b!17034 -o 1 p 0x1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "log")
		os.WriteFile(p, b, 0600)
		l, err := Open(p)
		if err != nil {
			return
		}
		for _, r := range l.Records() {
			back, err := ParseRecord(r.String())
			if err != nil || back.Score != r.Score || back.Partition != r.Partition {
				t.Fatalf("%v -> %q -> %v %v", r, r.String(), back, err)
			}
		}
		l.Close()
	})
}

// TestMerge: a merge adds the records the log lacks, in their order,
// skips the ones it has and lines that are not records, and a second
// merge of the same text adds nothing.
func TestMerge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rootscor")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	a := "vac:" + strings.Repeat("a", 40) + " /fs.part tcp!v!17034 fs 2026-12-01T00:00:00Z\n"
	b := "vac:" + strings.Repeat("b", 40) + " /fs.part tcp!v!17034 fs 2026-12-02T00:00:00Z\n"
	c := "vac:" + strings.Repeat("c", 40) + " /fs.part tcp!v!17034 fs 2026-12-03T00:00:00Z\n"
	r, _ := ParseRecord(a)
	if err := l.Append(r); err != nil {
		t.Fatal(err)
	}
	n, err := l.Merge([]byte(a + "venti/wrarena -h x\n" + b + c + "vac:torn"))
	if err != nil || n != 2 {
		t.Fatalf("merge: %d %v", n, err)
	}
	if got, want := string(l.Bytes()), a+b+c; got != want {
		t.Errorf("log:\n%s\nwant\n%s", got, want)
	}
	if n, err := l.Merge([]byte(b + a)); err != nil || n != 0 {
		t.Errorf("second merge: %d %v", n, err)
	}
	l.Close()
	if got, _ := os.ReadFile(path); string(got) != a+b+c {
		t.Errorf("file:\n%s", got)
	}
}
