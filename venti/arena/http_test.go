package arena

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"replfs/venti"
)

// TestFixturePages renders /index, /xindex and /storage for the fixture
// partition and compares them with the pages plan9port venti served
// for it. Excluded, because they describe plan9port's on-disk index
// sections, which we do not have: /index's "\tbuckets=" and "\tsect="
// lines, and /xindex's buckets and buckdiv attributes and its <sect>
// line. /index is compared with index-after-restart.txt, which lacks
// the "inqueue" word a live plan9port shows while it sums an arena.
func TestFixturePages(t *testing.T) {
	_, dir := fixturePart(t)
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := OpenPartition(filepath.Join(abs, "arenas.part"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ix, v := partitionViews([]*Partition{p})
	ix.buckets, ix.div = 415, 10349319
	for _, tt := range []struct {
		file  string
		write func(io.Writer, indexView, []arenaView)
		skip  func(line string) bool
	}{
		{"index-after-restart.txt", writeIndexPage, func(l string) bool {
			return strings.HasPrefix(l, "\tbuckets=") || strings.HasPrefix(l, "\tsect=")
		}},
		{"xindex.txt", writeXIndexPage, func(l string) bool {
			return strings.HasPrefix(l, "<index ") || strings.HasPrefix(l, "\t\t<sect ")
		}},
		{"storage.txt", writeStoragePage, func(string) bool { return false }},
	} {
		b, err := os.ReadFile(filepath.Join(dir, tt.file))
		if err != nil {
			t.Fatal(err)
		}
		want := filterLines(strings.ReplaceAll(string(b), "<dir>", abs), tt.skip)
		var buf bytes.Buffer
		tt.write(&buf, ix, v)
		got := filterLines(buf.String(), tt.skip)
		if got != want {
			t.Errorf("%s differs:\n--- ours\n%s--- plan9port's\n%s", tt.file, got, want)
		}
	}
}

func filterLines(s string, skip func(string) bool) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if l != "" && !skip(strings.TrimSuffix(l, "\n")) {
			b.WriteString(l)
		}
	}
	return b.String()
}

func TestCommas(t *testing.T) {
	for n, want := range map[uint64]string{0: "0", 999: "999", 1000: "1,000", 4201745: "4,201,745", 40984576: "40,984,576"} {
		if got := commas(n); got != want {
			t.Errorf("commas(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestStorePages serves the pages from a Store over HTTP.
func TestStorePages(t *testing.T) {
	path := newPartition(t, 40<<20, 4<<20)
	s := openStore(t, path)
	defer s.Close()
	ctx := context.Background()
	for i := range 5 {
		s.Write(ctx, venti.DataType, block(i, 1000))
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	get := func(p string) string {
		r, err := srv.Client().Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return string(b)
	}
	if got := get("/flushdcache"); got != "flushed dcache\n" {
		t.Errorf("/flushdcache: %q", got)
	}
	if got := get("/flushicache"); got != "flushed icache\n" {
		t.Errorf("/flushicache: %q", got)
	}
	idx := get("/index")
	want := "arena='arenas00' on " + path + " at [802816,4997120)\n"
	if !strings.Contains(idx, want) || !strings.Contains(idx, "\twritten: clumps=5 compressed clumps=0 data=5,000 compressed data=5,000 storage=5,315\n") {
		t.Errorf("/index:\n%s", idx)
	}
	if st := get("/storage"); !strings.Contains(st, "total arenas=10 active=1\n") {
		t.Errorf("/storage:\n%s", st)
	}
	if x := get("/xindex"); !strings.Contains(x, `<arena name="arenas01" version="5" partition="`+path+`" blocksize="8192" start="4997120" stop="5013504" created="0" modified="0" clumps="0"`) {
		t.Errorf("/xindex:\n%s", x)
	}
	if r, _ := srv.Client().Get(srv.URL + "/nope"); r.StatusCode != 404 {
		t.Errorf("/nope: %d", r.StatusCode)
	}
}
