package bucket

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"replfs/venti"
	"replfs/venti/arena"
)

// manifestName is the manifest's object name under the prefix.
const manifestName = "manifest"

// manifestFormat is the manifest's first field, naming its layout.
const manifestFormat = "replfs arenas 1"

// maxManifest bounds what is read as a manifest: a hostile store may
// hold anything. 31744 arenas of 512 MiB with 8 ranges each fit well.
const maxManifest = 64 << 20

// A Manifest lists what a prefix holds: every arena, in the order of
// writing, and how far it is stored. It is the cursor of uploads.
type Manifest struct {
	Format   string   `json:"format"`
	Seq      int64    `json:"seq"` // writes so far
	Arenas   []*Entry `json:"arenas"`
	RootScor string   `json:"rootscor,omitempty"` // the root score log's object, if any
}

// An Entry is one arena in a Manifest.
type Entry struct {
	Name       string  `json:"name"`
	Version    int     `json:"version"`
	BlockSize  int     `json:"blocksize"`
	Size       int64   `json:"size"`
	ClumpMagic uint32  `json:"clumpmagic"`
	Ctime      uint32  `json:"ctime"`
	Wtime      uint32  `json:"wtime"`
	Clumps     uint32  `json:"clumps"` // clumps stored
	Used       int64   `json:"used"`   // log bytes stored
	Sealed     bool    `json:"sealed,omitempty"`
	Score      string  `json:"score,omitempty"`  // a sealed arena's score
	Object     string  `json:"object,omitempty"` // a sealed arena's bytes
	Ranges     []Range `json:"ranges,omitempty"` // an unsealed arena's
}

// A Range is bytes [Lo,Hi) of an arena, whole clumps, as an object,
// with the directory entries of its clumps as another.
type Range struct {
	Lo     int64  `json:"lo"`
	Hi     int64  `json:"hi"`
	Clumps uint32 `json:"clumps"`
	Log    string `json:"log"`
	Dir    string `json:"dir"`
}

// Geometry returns the arena's identity and layout.
func (e *Entry) Geometry() arena.Geometry {
	return arena.Geometry{Name: e.Name, Version: e.Version, BlockSize: e.BlockSize, Size: e.Size,
		ClumpMagic: e.ClumpMagic, Ctime: e.Ctime, Wtime: e.Wtime}
}

// Same reports whether e describes the arena a, and not another venti's
// arena of the same name.
func (e *Entry) Same(a *arena.Arena) bool {
	return e.Name == a.Name && e.Version == a.Version && e.BlockSize == a.BlockSize &&
		e.Size == a.Stop-a.Start && e.ClumpMagic == a.ClumpMagic && e.Ctime == a.Ctime
}

// dirName returns the arena's folder of objects: named by its clump
// magic and creation time too, so two ventis' arenas never share one.
func (e *Entry) dirName() string {
	return fmt.Sprintf("arenas/%s.%08x.%08x", escape(e.Name), e.ClumpMagic, e.Ctime)
}

func (e *Entry) rangeNames(lo, hi int64) (log, dir string) {
	d := e.dirName()
	return fmt.Sprintf("%s/log.%016x-%016x", d, lo, hi), fmt.Sprintf("%s/dir.%016x-%016x", d, lo, hi)
}

func (e *Entry) arenaName() string { return e.dirName() + "/arena" }

// escape makes an arena name (printable ASCII) an object name element.
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02x", c)
		}
	}
	return b.String()
}

// find returns the entry of the arena named, or nil.
func (m *Manifest) find(name string) *Entry {
	for _, e := range m.Arenas {
		if e.Name == name {
			return e
		}
	}
	return nil
}

// Cursor returns m as a ventiprog cursor: per arena the log offset
// stored, done once sealed and whole.
func (m *Manifest) Cursor() arena.Cursor {
	c := arena.Cursor{}
	for _, e := range m.Arenas {
		c[e.Name] = arena.Position{Offset: e.Used, Done: e.Sealed}
	}
	return c
}

// Objects returns every object m names.
func (m *Manifest) Objects() []string {
	var out []string
	for _, e := range m.Arenas {
		if e.Object != "" {
			out = append(out, e.Object)
		}
		for _, r := range e.Ranges {
			out = append(out, r.Log, r.Dir)
		}
	}
	if m.RootScor != "" {
		out = append(out, m.RootScor)
	}
	return out
}

// check validates a manifest read from a store, which may hold
// anything: every number in range, every object under the prefix's
// own names, ranges contiguous from the arena's head.
func (m *Manifest) check() error {
	if m.Format != manifestFormat {
		return fmt.Errorf("not a replfs manifest (format %s)", clip(m.Format))
	}
	if len(m.Arenas) > arena.MaxAMap*64 {
		return fmt.Errorf("%d arenas", len(m.Arenas))
	}
	seen := map[string]bool{}
	for _, e := range m.Arenas {
		if e == nil {
			return errors.New("null arena")
		}
		if err := e.Geometry().Check(); err != nil {
			return err
		}
		if seen[e.Name] {
			return fmt.Errorf("arena %s twice", e.Name)
		}
		seen[e.Name] = true
		bs := int64(e.BlockSize)
		if e.Used < 0 || e.Used+e.Geometry().DirSize(e.Clumps) > e.Size-2*bs {
			return fmt.Errorf("arena %s: %d clumps in %d bytes overflow it", e.Name, e.Clumps, e.Used)
		}
		if e.Sealed {
			if e.Object != e.arenaName() || len(e.Ranges) != 0 {
				return fmt.Errorf("arena %s: bad sealed object %s", e.Name, clip(e.Object))
			}
			if _, err := venti.ParseScore(e.Score); err != nil {
				return fmt.Errorf("arena %s: bad score", e.Name)
			}
			continue
		}
		if e.Object != "" || e.Score != "" {
			return fmt.Errorf("arena %s: unsealed with an arena object", e.Name)
		}
		var lo int64
		var clumps uint32
		for _, r := range e.Ranges {
			log, dir := e.rangeNames(r.Lo, r.Hi)
			if r.Lo != lo || r.Hi <= r.Lo || r.Log != log || r.Dir != dir || r.Clumps == 0 {
				return fmt.Errorf("arena %s: bad range %#x-%#x", e.Name, r.Lo, r.Hi)
			}
			if clumps+r.Clumps < clumps {
				return fmt.Errorf("arena %s: too many clumps", e.Name)
			}
			lo, clumps = r.Hi, clumps+r.Clumps
		}
		if len(e.Ranges) > 0 && (lo != bs+e.Used || clumps != e.Clumps) || len(e.Ranges) == 0 && (e.Used != 0 || e.Clumps != 0) {
			return fmt.Errorf("arena %s: ranges end at %#x with %d clumps, not %#x with %d", e.Name, lo, clumps, bs+e.Used, e.Clumps)
		}
	}
	if m.RootScor != "" && !strings.HasPrefix(m.RootScor, "rootscor/") || len(m.RootScor) > 64 {
		return fmt.Errorf("bad rootscor object %s", clip(m.RootScor))
	}
	return nil
}

// LoadManifest reads the manifest and its ETag; a prefix with none
// gives an empty manifest and etag "".
func (b *Bucket) LoadManifest(ctx context.Context) (*Manifest, string, error) {
	data, etag, err := b.Get(ctx, manifestName, maxManifest)
	if errors.Is(err, ErrNotExist) {
		return &Manifest{Format: manifestFormat}, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	m, err := parseManifest(data)
	if err != nil {
		return nil, "", fmt.Errorf("%s: manifest: %w", b.cfg, err)
	}
	return m, etag, nil
}

func parseManifest(data []byte) (*Manifest, error) {
	var m Manifest
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %s", venti.ErrCorrupt, oneLine(err.Error()))
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("%w: %v", venti.ErrCorrupt, err)
	}
	return &m, nil
}

// saveManifest writes m if the manifest is still the one whose ETag is
// etag ("" for none yet), and returns the new ETag. Another writer's
// manifest in between is ErrConflict, and m is not written.
func (b *Bucket) saveManifest(ctx context.Context, m *Manifest, etag string) (string, error) {
	if err := m.check(); err != nil {
		return "", fmt.Errorf("%s: manifest: %v", b.cfg, err) // a bug of ours
	}
	m.Seq++
	data, err := json.MarshalIndent(m, "", "\t")
	if err != nil {
		return "", err
	}
	data = append(data, '\n')
	cond := Cond{IfMatch: etag, IfNoneMatch: etag == ""}
	netag, err := b.Put(ctx, manifestName, data, cond)
	if errors.Is(err, ErrConflict) {
		m.Seq--
		return "", fmt.Errorf("%s: manifest changed by another writer: not overwritten: %w", b.cfg, ErrConflict)
	}
	if err != nil {
		m.Seq--
		return "", err
	}
	return netag, nil
}
