package bucket

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func goodManifest() *Manifest {
	e := &Entry{Name: "arenas00", Version: 5, BlockSize: 8192, Size: 4 << 20, ClumpMagic: 0x1234, Ctime: 5}
	log, dir := e.rangeNames(0, 8192+1000)
	e.Ranges = []Range{{Lo: 0, Hi: 8192 + 1000, Clumps: 3, Log: log, Dir: dir}}
	e.Clumps, e.Used = 3, 1000
	s := &Entry{Name: "arenas01", Version: 5, BlockSize: 8192, Size: 4 << 20, ClumpMagic: 0x99, Ctime: 1, Sealed: true,
		Clumps: 10, Used: 5000, Score: "da39a3ee5e6b4b0d3255bfef95601890afd80709"}
	s.Object = s.arenaName()
	return &Manifest{Format: manifestFormat, Seq: 3, Arenas: []*Entry{s, e}, RootScor: "rootscor/abc"}
}

// A manifest read from a store is checked field by field: nothing in it
// may name an object outside the prefix's layout or overflow an arena.
func TestManifestCheck(t *testing.T) {
	m := goodManifest()
	b, _ := json.Marshal(m)
	if _, err := parseManifest(b); err != nil {
		t.Fatalf("good manifest: %v", err)
	}
	mutations := map[string]func(m *Manifest){
		"format":        func(m *Manifest) { m.Format = "x" },
		"name":          func(m *Manifest) { m.Arenas[0].Name = "a\nb" },
		"twice":         func(m *Manifest) { m.Arenas[1].Name = m.Arenas[0].Name },
		"object":        func(m *Manifest) { m.Arenas[0].Object = "../../etc/passwd" },
		"score":         func(m *Manifest) { m.Arenas[0].Score = "zz" },
		"log object":    func(m *Manifest) { m.Arenas[1].Ranges[0].Log = "manifest" },
		"gap":           func(m *Manifest) { m.Arenas[1].Ranges[0].Lo = 8192 },
		"used":          func(m *Manifest) { m.Arenas[1].Used = 1 << 40 },
		"clumps":        func(m *Manifest) { m.Arenas[1].Clumps = 1 << 31 },
		"block size":    func(m *Manifest) { m.Arenas[1].BlockSize = 3000 },
		"size":          func(m *Manifest) { m.Arenas[1].Size = -1 },
		"version":       func(m *Manifest) { m.Arenas[1].Version = 9 },
		"rootscor":      func(m *Manifest) { m.RootScor = "arenas/x" },
		"null":          func(m *Manifest) { m.Arenas[0] = nil },
		"unsealed obj":  func(m *Manifest) { m.Arenas[1].Object = "x" },
		"empty ranges":  func(m *Manifest) { m.Arenas[1].Ranges = nil },
		"zero clumps":   func(m *Manifest) { m.Arenas[1].Ranges[0].Clumps = 0 },
		"negative used": func(m *Manifest) { m.Arenas[1].Used = -5 },
	}
	for name, f := range mutations {
		m := goodManifest()
		f(m)
		b, _ := json.Marshal(m)
		if _, err := parseManifest(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for _, s := range []string{"", "null", "[]", `{"format":"replfs arenas 1","frob":1}`, strings.Repeat("[", 10000)} {
		if _, err := parseManifest([]byte(s)); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func FuzzManifest(f *testing.F) {
	b, _ := json.Marshal(goodManifest())
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseManifest(data)
		if err != nil {
			return
		}
		// What passes the check can be written back and reads the same.
		m.Cursor()
		m.Objects()
		for _, e := range m.Arenas {
			e.Geometry().DirSize(e.Clumps)
		}
	})
}

// A store that ignores If-None-Match is refused before anything is
// written: on it two writers could both advance a manifest.
func TestRefuseUnconditionalStore(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case "PUT":
			w.Header().Set("ETag", `"0123456789abcdef0123456789abcdef"`)
		case "DELETE":
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	cfg, err := ParseURL("s3://backup/p?endpoint=" + strings.TrimPrefix(srv.URL, "http://") + "&tls=0")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	err = b.CheckConditional(context.Background())
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "ignores If-None-Match") {
		t.Errorf("CheckConditional on a store that ignores it: %v", err)
	}
}
