package rootscor

import (
	"bytes"
	"context"
	"fmt"

	"replfs/venti"
)

// A log stored in venti is a venti file of the log's bytes under a root
// block whose type is RootType and name RootName: the root's score names
// a directory block of one Entry, the file's, as vac names its trees.
// The root's prev is the log stored before it, so the roots form a
// chain, newest first. A scan of a venti's arenas for root clumps finds
// the log without any other record of its score.
const (
	RootType = "replfs"
	RootName = "rootscor"

	// MaxLogSize bounds the log ReadLog accepts (and WriteLog writes):
	// a hostile venti cannot make it read more.
	MaxLogSize = 64 << 20

	logBlockSize = 8192
)

// WriteLog stores log in w as a venti file (data blocks of 8192 bytes,
// pointer blocks of 8180) and a root block of RootType and RootName
// whose prev is prev, and returns the root's score. Children are written
// before their parents. It does not sync w: the caller does, before it
// relies on the score.
func WriteLog(ctx context.Context, w venti.BlockWriter, log []byte, prev venti.Score) (venti.Score, error) {
	if len(log) > MaxLogSize {
		return venti.Score{}, fmt.Errorf("write root score log: %d bytes, more than %d", len(log), MaxLogSize)
	}
	psize := logBlockSize / venti.ScoreSize * venti.ScoreSize
	e, err := venti.WriteFile(ctx, w, bytes.NewReader(log), venti.DataType, logBlockSize, psize)
	if err != nil {
		return venti.Score{}, fmt.Errorf("write root score log: %w", err)
	}
	dir := make([]byte, venti.EntrySize)
	if err := e.Pack(dir); err != nil {
		return venti.Score{}, fmt.Errorf("write root score log: %w", err)
	}
	ds, err := w.Write(ctx, venti.DirType, venti.ZeroTruncate(venti.DirType, dir))
	if err != nil {
		return venti.Score{}, fmt.Errorf("write root score log: %w", err)
	}
	rb, err := venti.Root{Name: RootName, Type: RootType, Score: ds, BlockSize: logBlockSize, Prev: prev}.Pack()
	if err != nil {
		return venti.Score{}, fmt.Errorf("write root score log: %w", err)
	}
	s, err := w.Write(ctx, venti.RootType, rb)
	if err != nil {
		return venti.Score{}, fmt.Errorf("write root score log: %w", err)
	}
	return s, nil
}

// ReadLog returns the log stored under the root score by WriteLog. A
// root of another type or name, block sizes above venti.MaxLumpSize and
// a log longer than MaxLogSize are errors.
func ReadLog(ctx context.Context, r venti.BlockReader, root venti.Score) ([]byte, error) {
	errorf := func(format string, args ...any) ([]byte, error) {
		return nil, fmt.Errorf("read root score log %v: "+format, append([]any{root}, args...)...)
	}
	b, err := r.Read(ctx, root, venti.RootType, venti.RootSize)
	if err != nil {
		return errorf("%w", err)
	}
	rt, err := venti.UnpackRoot(b)
	if err != nil {
		return errorf("%w", err)
	}
	if rt.Type != RootType || rt.Name != RootName {
		return errorf("not a root score log (type %q name %q)", rt.Type, rt.Name)
	}
	if rt.BlockSize > venti.MaxLumpSize {
		return errorf("%w: block size %d", venti.ErrCorrupt, rt.BlockSize)
	}
	b, err = r.Read(ctx, rt.Score, venti.DirType, rt.BlockSize)
	if err != nil {
		return errorf("%w", err)
	}
	e, err := venti.UnpackEntry(venti.ZeroExtend(venti.DirType, b, venti.EntrySize))
	if err != nil {
		return errorf("%w", err)
	}
	switch {
	case !e.Active() || e.Type >= venti.DirType:
		return errorf("%w: entry is not an active data stream", venti.ErrCorrupt)
	case e.Psize > venti.MaxLumpSize || e.Dsize > venti.MaxLumpSize || e.Psize < venti.ScoreSize:
		return errorf("%w: entry has block sizes %d/%d", venti.ErrCorrupt, e.Psize, e.Dsize)
	case e.Size > MaxLogSize:
		return errorf("%w: log of %d bytes, more than %d", venti.ErrCorrupt, e.Size, MaxLogSize)
	}
	var buf bytes.Buffer
	buf.Grow(int(e.Size))
	if _, err := venti.NewFile(r, e).WriteTo(ctx, &buf); err != nil {
		return errorf("%w", err)
	}
	return buf.Bytes(), nil
}
