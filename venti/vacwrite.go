package venti

import (
	"encoding/binary"
	"fmt"
)

// VacDirVersion is the DirEntry version PackMetaBlock writes: plan9port
// vac's (8), whose readers take the metadata stream of a directory at
// entry Entry+1.
const VacDirVersion = 8

// vacDirSize is the packed size of d (pack.c vdsize, version 8).
func vacDirSize(d *VacDir) int {
	n := 4 + 2 + 4 + 8 + 5*4 + 2*4 + len(d.Elem) + len(d.Uid) + len(d.Gid) + len(d.Mid)
	if d.QidSpace {
		n += 3 + 16
	}
	return n
}

// packVacDir writes d into p, which is vacDirSize(d) long (pack.c
// vdpack, version 8). Gen, Mentry and Mgen are not written: version 8
// has no room for them.
func packVacDir(d *VacDir, p []byte) {
	be := binary.BigEndian
	be.PutUint32(p, dirMagic)
	be.PutUint16(p[4:], VacDirVersion)
	p = p[6:]
	str := func(s string) {
		be.PutUint16(p, uint16(len(s)))
		copy(p[2:], s)
		p = p[2+len(s):]
	}
	str(d.Elem)
	be.PutUint32(p, d.Entry)
	be.PutUint64(p[4:], d.Qid)
	p = p[12:]
	str(d.Uid)
	str(d.Gid)
	str(d.Mid)
	for i, v := range []uint32{d.Mtime, d.Mcount, d.Ctime, d.Atime, d.Mode} {
		be.PutUint32(p[4*i:], v)
	}
	p = p[20:]
	if d.QidSpace {
		p[0] = dirQidSpaceEntry
		be.PutUint16(p[1:], 16)
		be.PutUint64(p[3:], d.QidOffset)
		be.PutUint64(p[11:], d.QidMax)
	}
}

// PackMetaBlock returns a MetaBlock of size bytes holding dirs, in
// order, as vac lays one out (pack.c mbinit, mbinsert, mbpack): a
// header, an index with room for size/100 entries, and the DirEntries
// one after another. Vac keeps a directory's entries sorted by name;
// that is the caller's to do. Strings longer than 65535 bytes and more
// entries than fit are errors.
func PackMetaBlock(dirs []VacDir, size int) ([]byte, error) {
	if size > 1<<16-1 {
		return nil, fmt.Errorf("meta block of %d bytes: more than 65535", size)
	}
	maxindex := size / 100
	if len(dirs) > maxindex {
		return nil, fmt.Errorf("meta block of %d bytes: room for %d entries, not %d", size, maxindex, len(dirs))
	}
	b := make([]byte, size)
	be := binary.BigEndian
	off := metaHeaderSize + maxindex*metaIndexSize
	for i := range dirs {
		d := &dirs[i]
		for _, s := range []string{d.Elem, d.Uid, d.Gid, d.Mid} {
			if len(s) > 1<<16-1 {
				return nil, fmt.Errorf("meta block: string of %d bytes", len(s))
			}
		}
		n := vacDirSize(d)
		if off+n > size {
			return nil, fmt.Errorf("meta block of %d bytes: entries do not fit", size)
		}
		packVacDir(d, b[off:off+n])
		ix := b[metaHeaderSize+i*metaIndexSize:]
		be.PutUint16(ix, uint16(off))
		be.PutUint16(ix[2:], uint16(n))
		off += n
	}
	be.PutUint32(b, metaMagic)
	be.PutUint16(b[4:], uint16(off))
	be.PutUint16(b[6:], 0) // free
	be.PutUint16(b[8:], uint16(maxindex))
	be.PutUint16(b[10:], uint16(len(dirs)))
	return b, nil
}
