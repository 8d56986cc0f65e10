package venti_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"replfs/venti"
	"replfs/venti/ventitest"
)

// TestPlan9portServer runs our client against a real plan9port venti
// (opt-in: $PLAN9 must name a plan9port install).
func TestPlan9portServer(t *testing.T) {
	root := ventitest.Plan9port(t)
	v := ventitest.StartPlan9portVenti(t, root, "64M", "8M")
	c := dial(t, v.Addr)
	ctx := context.Background()
	if c.Version() != venti.Version04 {
		t.Errorf("negotiated %q with plan9port, want 04", c.Version())
	}
	if err := c.Ping(ctx); err != nil {
		t.Errorf("ping: %v", err)
	}
	// Many requests in flight on one connection.
	var wg sync.WaitGroup
	for i := range 300 {
		wg.Go(func() {
			data := fmt.Appendf(nil, "plan9port block %d", i)
			typ := venti.Type(i % 17)
			s, err := c.Write(ctx, typ, data)
			if err != nil {
				t.Errorf("write %d: %v", i, err)
				return
			}
			// Pointer blocks read back as the dir flavour.
			rt := typ
			if typ > venti.DataType && typ < venti.DirType {
				rt = typ + venti.DirType
			}
			got, err := c.Read(ctx, s, rt, venti.MaxLumpSize)
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("read %d type %d: %v", i, rt, err)
			}
		})
	}
	wg.Wait()
	if err := c.Sync(ctx); err != nil {
		t.Errorf("sync: %v", err)
	}
	missing := venti.Sum([]byte("nonexistent"))
	_, err := c.Read(ctx, missing, venti.DataType+1, 100)
	if !venti.IsNotFound(err) || err.Error() != "no block with score "+missing.String()+"/9 exists" {
		t.Errorf("missing block: %v", err)
	}
	s, _ := c.Write(ctx, venti.DataType, []byte("0123456789"))
	if _, err := c.Read(ctx, s, venti.DataType, 3); err == nil || !strings.HasPrefix(err.Error(), "read too small") {
		t.Errorf("short read: %v", err)
	}
}

// TestPlan9portClients runs plan9port's venti/write, venti/read,
// venti/sync, vac and unvac against our server (opt-in).
func TestPlan9portClients(t *testing.T) {
	root := ventitest.Plan9port(t)
	addr, store := ventitest.NewServer(t)
	ctx := context.Background()
	run := func(stdin string, name string, args ...string) string {
		t.Helper()
		cmd := ventitest.Plan9portCmd(ctx, root, name, args...)
		cmd.Stdin = strings.NewReader(stdin)
		cmd.Dir = t.TempDir()
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, stderr.String())
		}
		return string(out)
	}
	data := "written by plan9port venti/write\n"
	out := run(data, "venti/write", "-h", addr)
	if want := venti.Sum([]byte(data)).String() + "\n"; out != want {
		t.Fatalf("venti/write printed %q, want %q", out, want)
	}
	if got := run("", "venti/read", "-h", addr, strings.TrimSpace(out)); got != data {
		t.Errorf("venti/read: %q", got)
	}
	run("", "venti/sync", "-h", addr)
	if store.Syncs() == 0 {
		t.Error("venti/sync did not reach the store")
	}

	// vac a small tree into our server and list it back with unvac.
	tree := t.TempDir()
	os.MkdirAll(filepath.Join(tree, "sub"), 0755)
	os.WriteFile(filepath.Join(tree, "one.txt"), []byte("one\n"), 0644)
	os.WriteFile(filepath.Join(tree, "sub", "big.bin"), bytes.Repeat([]byte("0123456789abcdef"), 20000), 0644)
	vacfile := filepath.Join(t.TempDir(), "t.vac")
	run("", "vac", "-h", addr, "-f", vacfile, tree)
	score, err := os.ReadFile(vacfile)
	if err != nil || !strings.HasPrefix(string(score), "vac:") {
		t.Fatalf("vac file: %q %v", score, err)
	}
	list := run("", "unvac", "-h", addr, "-t", vacfile)
	for _, want := range []string{"one.txt", "sub/big.bin"} {
		if !strings.Contains(list, want) {
			t.Errorf("unvac -t lists %q, want %s in it", list, want)
		}
	}
	// Our client reads the root plan9port wrote.
	c := dial(t, addr)
	s, err := venti.ParseScore(strings.TrimSpace(string(score)))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := c.Read(ctx, s, venti.RootType, venti.RootSize); err != nil || len(b) != venti.RootSize {
		t.Errorf("read vac root: %d bytes, %v", len(b), err)
	}
}
