package venti

import (
	"reflect"
	"testing"
)

// TestPackMetaBlock: what PackMetaBlock writes, unpackMetaBlock reads
// back, version 8 giving Mentry = Entry+1.
func TestPackMetaBlock(t *testing.T) {
	dirs := []VacDir{
		{Elem: "/", Entry: 0, Mentry: 1, Uid: "vac", Gid: "vac", Mode: ModeDir | 0777},
		{Elem: "rootscor", Entry: 2, Mentry: 3, Qid: 1 << 40, Uid: "glenda", Gid: "sys", Mid: "glenda",
			Mtime: 1, Mcount: 2, Ctime: 3, Atime: 4, Mode: 0444, QidSpace: true, QidOffset: 5, QidMax: 6},
	}
	b, err := PackMetaBlock(dirs, 8192)
	if err != nil {
		t.Fatal(err)
	}
	got, err := unpackMetaBlock(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, dirs) {
		t.Errorf("got %+v\nwant %+v", got, dirs)
	}
	if _, err := PackMetaBlock(make([]VacDir, 2), 150); err == nil {
		t.Error("two entries in a block with room for one")
	}
	if _, err := PackMetaBlock([]VacDir{{Elem: string(make([]byte, 300))}}, 300); err == nil {
		t.Error("entries larger than the block")
	}
}
