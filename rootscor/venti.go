package rootscor

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"replfs/venti"
)

// A log stored in venti is a vac archive holding one file, rootscor,
// the log's bytes, laid out as plan9port's vac writes one: the top
// directory block's three entries are the root directory's entries
// (the file's), its metadata (the file's DirEntry) and the metadata of
// the root directory itself. Two root blocks name that top block:
//
//   - one of type RootType and name RootName, whose prev is the log
//     stored before it, so these roots form a chain, newest first, and a
//     scan of a venti's arenas for root clumps finds the log without
//     any other record of its score; and
//   - one of type vac and name RootName (VacRoot), so that vac's own
//     tools, unvac and vacfs, read the log too. Vac refuses a root whose
//     type is not vac; a vac root's prev is fossil's business, so this
//     one has none.
const (
	RootType = "replfs"
	RootName = "rootscor"

	// MaxLogSize bounds the log ReadLog accepts (and WriteLog writes):
	// a hostile venti cannot make it read more.
	MaxLogSize = 64 << 20

	logBlockSize = 8192
	logPsize     = logBlockSize / venti.ScoreSize * venti.ScoreSize
	maxMeta      = 1 << 20 // bounds a log archive's metadata streams
)

// WriteLog stores log in w, as above, the replfs root's prev being prev,
// and returns that root's score. Children are written before their
// parents and the replfs root last. The file's times are those of the
// log's last record, so the same log is always the same blocks. It does
// not sync w: the caller does, before it relies on the score.
func WriteLog(ctx context.Context, w venti.BlockWriter, log []byte, prev venti.Score) (venti.Score, error) {
	s, err := writeLog(ctx, w, log, prev)
	if err != nil {
		return venti.Score{}, fmt.Errorf("write root score log: %w", err)
	}
	return s, nil
}

func writeLog(ctx context.Context, w venti.BlockWriter, log []byte, prev venti.Score) (venti.Score, error) {
	if len(log) > MaxLogSize {
		return venti.Score{}, fmt.Errorf("%d bytes, more than %d", len(log), MaxLogSize)
	}
	file, err := venti.WriteFile(ctx, w, bytes.NewReader(log), venti.DataType, logBlockSize, logPsize)
	if err != nil {
		return venti.Score{}, err
	}
	var mtime uint32
	lines := strings.Split(strings.TrimSuffix(string(log), "\n"), "\n")
	if r, err := ParseRecord(lines[len(lines)-1]); err == nil && r.Time.Unix() > 0 && r.Time.Unix() < 1<<32 {
		mtime = uint32(r.Time.Unix())
	}
	// block writes b as a one-block stream of type t and returns its entry.
	block := func(t venti.Type, b []byte, size int) (venti.Entry, error) {
		s, err := w.Write(ctx, t, venti.ZeroTruncate(t, b))
		return venti.Entry{Type: t, Flags: venti.EntryActive, Psize: logPsize, Dsize: logBlockSize,
			Size: uint64(size), Score: s}, err
	}
	entries := func(es ...venti.Entry) ([]byte, error) {
		b := make([]byte, len(es)*venti.EntrySize)
		for i, e := range es {
			if err := e.Pack(b[i*venti.EntrySize:]); err != nil {
				return nil, err
			}
		}
		return b, nil
	}
	meta := func(d venti.VacDir) (venti.Entry, error) {
		b, err := venti.PackMetaBlock([]venti.VacDir{d}, logBlockSize)
		if err != nil {
			return venti.Entry{}, err
		}
		return block(venti.DataType, b, logBlockSize)
	}
	b, err := entries(file)
	if err != nil {
		return venti.Score{}, err
	}
	e0, err := block(venti.DirType, b, len(b))
	if err != nil {
		return venti.Score{}, err
	}
	e1, err := meta(venti.VacDir{Elem: RootName, Entry: 0, Qid: 1, Uid: "replfs", Gid: "replfs", Mid: "replfs",
		Mtime: mtime, Mcount: 1, Ctime: mtime, Atime: mtime, Mode: 0444})
	if err != nil {
		return venti.Score{}, err
	}
	e2, err := meta(venti.VacDir{Elem: "/", Entry: 0, Qid: 0, Uid: "replfs", Gid: "replfs", Mid: "replfs",
		Mtime: mtime, Ctime: mtime, Atime: mtime, Mode: venti.ModeDir | 0555})
	if err != nil {
		return venti.Score{}, err
	}
	if b, err = entries(e0, e1, e2); err != nil {
		return venti.Score{}, err
	}
	top, err := w.Write(ctx, venti.DirType, venti.ZeroTruncate(venti.DirType, b))
	if err != nil {
		return venti.Score{}, err
	}
	vb, err := vacRoot(top).Pack()
	if err != nil {
		return venti.Score{}, err
	}
	if _, err := w.Write(ctx, venti.RootType, vb); err != nil {
		return venti.Score{}, err
	}
	rb, err := venti.Root{Name: RootName, Type: RootType, Score: top, BlockSize: logBlockSize, Prev: prev}.Pack()
	if err != nil {
		return venti.Score{}, err
	}
	return w.Write(ctx, venti.RootType, rb)
}

func vacRoot(top venti.Score) venti.Root {
	return venti.Root{Name: RootName, Type: "vac", Score: top, BlockSize: logBlockSize}
}

// VacRoot returns the score of the vac root WriteLog wrote beside the
// replfs root whose block is rb: the score to give unvac or vacfs.
func VacRoot(rb []byte) (venti.Score, error) {
	rt, err := venti.UnpackRoot(rb)
	if err != nil {
		return venti.Score{}, err
	}
	vb, err := vacRoot(rt.Score).Pack()
	if err != nil {
		return venti.Score{}, err
	}
	return venti.Sum(vb), nil
}

// ReadLog returns the log stored under root by WriteLog: a replfs or vac
// root named RootName. (A log written before logs were vac archives,
// whose top block held the file's entry alone, reads too.) Block sizes
// above venti.MaxLumpSize, metadata over a MiB and a log longer than
// MaxLogSize are errors: nothing the venti sends is trusted further.
func ReadLog(ctx context.Context, r venti.BlockReader, root venti.Score) ([]byte, error) {
	b, err := readLog(ctx, r, root)
	if err != nil {
		return nil, fmt.Errorf("read root score log %v: %w", root, err)
	}
	return b, nil
}

func readLog(ctx context.Context, r venti.BlockReader, root venti.Score) ([]byte, error) {
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{venti.ErrCorrupt}, args...)...)
	}
	b, err := r.Read(ctx, root, venti.RootType, venti.RootSize)
	if err != nil {
		return nil, err
	}
	rt, err := venti.UnpackRoot(b)
	if err != nil {
		return nil, err
	}
	if rt.Type != RootType && rt.Type != "vac" || rt.Name != RootName {
		return nil, fmt.Errorf("not a root score log (type %q name %q)", rt.Type, rt.Name)
	}
	if rt.BlockSize > venti.MaxLumpSize || rt.BlockSize < venti.EntrySize {
		return nil, corrupt("block size %d", rt.BlockSize)
	}
	top := venti.NewFile(r, venti.Entry{Type: venti.DirType, Flags: venti.EntryActive,
		Psize: rt.BlockSize / venti.ScoreSize * venti.ScoreSize, Dsize: rt.BlockSize,
		Size: 3 * venti.EntrySize, Score: rt.Score})
	e0, err := top.EntryAt(ctx, 0)
	if err != nil {
		return nil, err
	}
	e2, err := top.EntryAt(ctx, 2)
	if err != nil {
		return nil, err
	}
	file := e0
	if e2.Active() {
		if file, err = vacFile(ctx, r, top, e0); err != nil {
			return nil, err
		}
	}
	switch e := file; {
	case !e.Active() || e.Type >= venti.DirType:
		return nil, corrupt("entry is not an active data stream")
	case e.Psize > venti.MaxLumpSize || e.Dsize > venti.MaxLumpSize || e.Psize < venti.ScoreSize:
		return nil, corrupt("entry has block sizes %d/%d", e.Psize, e.Dsize)
	case e.Size > MaxLogSize:
		return nil, corrupt("log of %d bytes, more than %d", e.Size, MaxLogSize)
	}
	var buf bytes.Buffer
	buf.Grow(int(file.Size))
	if _, err := venti.NewFile(r, file).WriteTo(ctx, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// vacFile finds file rootscor in the root directory of a vac archive
// whose top block is top and whose root directory's entries are e0.
func vacFile(ctx context.Context, r venti.BlockReader, top *venti.File, e0 venti.Entry) (venti.Entry, error) {
	e1, err := top.EntryAt(ctx, 1)
	if err != nil {
		return venti.Entry{}, err
	}
	for _, e := range []venti.Entry{e0, e1} {
		if !e.Active() || e.Size > maxMeta || e.Dsize > venti.MaxLumpSize || e.Psize > venti.MaxLumpSize || e.Psize < venti.ScoreSize {
			return venti.Entry{}, fmt.Errorf("%w: bad root directory entry", venti.ErrCorrupt)
		}
	}
	meta := venti.NewFile(r, e1)
	for n := range meta.NumBlocks() {
		b, err := meta.Block(ctx, n)
		if err != nil {
			return venti.Entry{}, err
		}
		dirs, err := venti.UnpackMetaBlock(b)
		if err != nil {
			return venti.Entry{}, err
		}
		for _, d := range dirs {
			if d.Elem == RootName && d.Mode&venti.ModeDir == 0 {
				return venti.NewFile(r, e0).EntryAt(ctx, int(d.Entry))
			}
		}
	}
	return venti.Entry{}, fmt.Errorf("%w: no file %s in the archive", venti.ErrCorrupt, RootName)
}
