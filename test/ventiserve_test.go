package test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"replfs/venti"
	"replfs/venti/arena"
	"replfs/venti/ventitest"
)

// TestVentiServeFixture runs `replfs venti serve` on a copy of the
// plan9port fixture partition and reads back, with our client, every
// root in roots.txt and every clump the partition holds.
func TestVentiServeFixture(t *testing.T) {
	fx := ventitest.Fixtures(t, "venti")
	part := copyFile(t, filepath.Join(fx, "arenas.part"), t.TempDir())
	port, hport := freePort(t), freePort(t)
	addr := "tcp!127.0.0.1!" + strconv.Itoa(port)
	p := start(t, "serving", "venti", "serve", "-a", addr, "-h", "tcp!127.0.0.1!"+strconv.Itoa(hport), part)
	c := dialVenti(t, addr)
	ctx := context.Background()

	roots, err := os.ReadFile(filepath.Join(fx, "roots.txt"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^(vac:[0-9a-f]{40})\s+(.*)$`)
	found := re.FindAllStringSubmatch(string(roots), -1)
	if len(found) < 5 {
		t.Fatalf("roots.txt lists %d roots", len(found))
	}
	for _, m := range found {
		s, err := venti.ParseScore(m[1])
		if err != nil {
			t.Fatal(err)
		}
		b, err := c.Read(ctx, s, venti.RootType, venti.RootSize)
		if err != nil || len(b) != venti.RootSize {
			t.Errorf("root %s (%s): %d bytes, %v", m[1], m[2], len(b), err)
		}
	}

	// Every clump, by its type.
	src, err := arena.OpenPartition(filepath.Join(fx, "arenas.part"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	n := 0
	for _, a := range src.Arenas {
		_, err := a.Scan(ctx, 0, func(cl *arena.Clump) error {
			got, err := c.Read(ctx, cl.Score, cl.Type, venti.MaxLumpSize)
			if err != nil || len(got) != len(cl.Data) {
				t.Errorf("%s clump %#x: %v", a.Name, cl.Offset, err)
			}
			n++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if n != 941 {
		t.Errorf("read %d clumps, want 941", n)
	}

	r, err := http.Get("http://127.0.0.1:" + strconv.Itoa(hport) + "/storage")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if !strings.Contains(string(b), "total arenas=10 active=2\n") {
		t.Errorf("/storage:\n%s", b)
	}
	if err := p.stop(t); err != nil {
		t.Errorf("SIGTERM: %v\n%s", err, p.stderr.String())
	}
}
