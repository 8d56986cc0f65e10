package arena

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"

	"replfs/venti"
	"replfs/venti/ventitest"
)

// TestPlan9portServesOurPartition: plan9port venti, started on a
// partition our Store wrote, indexes it and serves every block
// (opt-in: needs $PLAN9).
func TestPlan9portServesOurPartition(t *testing.T) {
	root := ventitest.Plan9port(t)
	path := newPartition(t, 40<<20, 4<<20)
	s := openStore(t, path)
	ctx := context.Background()
	const n = 1200 // about 8 MB: two arenas sealed, a third in use
	for i := range n {
		if _, err := s.Write(ctx, venti.Type(i%17), block(i, 100+i*11)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	v := ventitest.StartPlan9portVentiOn(t, root, path)
	c, err := venti.Dial(ctx, v.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range n {
		typ := venti.Type(i % 17)
		if typ > venti.DataType && typ < venti.DirType {
			typ += venti.DirType
		}
		data := block(i, 100+i*11)
		got, err := c.Read(ctx, venti.Sum(data), typ, venti.MaxLumpSize)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("plan9port venti read of block %d: %v", i, err)
		}
	}
}

// TestPlan9portReadsCompressed: clumps our store compressed are accepted
// by plan9port's tools, checkarenas -v, printarena and wrarena (which
// decompresses and checks every clump on its way to a venti), and
// served by plan9port venti started on the partition (opt-in: PLAN9).
func TestPlan9portReadsCompressed(t *testing.T) {
	root := ventitest.Plan9port(t)
	path := newPartition(t, 40<<20, 4<<20)
	s := openStore(t, path)
	ctx := context.Background()
	var blocks [][]byte
	for i := range 1000 { // two arenas sealed, a third in use
		b := textBlock(i, 1000+i*7)
		if i%3 == 0 {
			b = block(i, 4000)
		}
		blocks = append(blocks, b)
		if _, err := s.Write(ctx, venti.DataType, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	p, err := OpenPartition(path)
	if err != nil {
		t.Fatal(err)
	}
	var cclumps uint32
	for _, a := range p.Arenas {
		cclumps += a.Mem.CClumps
	}
	p.Close()
	if cclumps < 600 {
		t.Fatalf("only %d compressed clumps", cclumps)
	}
	run := func(name string, args ...string) string {
		t.Helper()
		out, err := ventitest.Plan9portCmd(ctx, root, name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return string(out)
	}
	out := run("venti/checkarenas", "-v", path)
	if strings.Contains(out, "error") || strings.Contains(out, "bad") || !strings.Contains(out, "compressed clumps=") {
		t.Errorf("checkarenas -v:\n%s", out)
	}
	pp, _ := OpenPartition(path)
	a0 := pp.Arenas[0]
	pp.Close()
	out = run("venti/printarena", "-o", strconv.FormatInt(a0.Start, 10), path)
	if !strings.Contains(out, "arenas00") {
		t.Errorf("printarena:\n%.2000s", out)
	}
	// wrarena reads, decompresses and checks every clump, and sends
	// them to a plan9port venti.
	tgt := ventitest.StartPlan9portVenti(t, root, "64M", "8M")
	run("venti/wrarena", "-h", tgt.Addr, path)
	v := ventitest.StartPlan9portVentiOn(t, root, path)
	for _, addr := range []string{v.Addr, tgt.Addr} {
		c, err := venti.Dial(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		for i, b := range blocks {
			got, err := c.Read(ctx, venti.Sum(b), venti.DataType, venti.MaxLumpSize)
			if err != nil || !bytes.Equal(got, b) {
				t.Fatalf("plan9port venti on %s: block %d: %v", addr, i, err)
			}
		}
		c.Close()
	}
	t.Logf("%d of %d clumps compressed; checkarenas, printarena and wrarena accept them", cclumps, len(blocks))
}
