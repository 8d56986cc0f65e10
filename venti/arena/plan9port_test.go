package arena

import (
	"bytes"
	"context"
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
