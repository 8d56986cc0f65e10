package arena

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// A file is an open partition file, or a byte range of one, as venti's
// part.c opens "file:lo-hi". Offsets given to it are relative to lo.
type file struct {
	name string // as given, range included
	f    *os.File
	r    io.ReaderAt // what is read: f, or an image's reader when f is nil
	lo   int64
	size int64 // bytes from lo to the end of the range
}

// parsePartName splits "file:lo-hi" as plan9port's parsepart does: lo
// and hi are numbers in C syntax with an optional k, m, g or t suffix;
// either may be missing ("file:lo", "file:-hi"); hi 0 or missing means
// the end of the file. A name whose part after the last colon does not
// start with a digit or '-' (a Plan 9 disk partition name) is a plain
// file name.
func parsePartName(name string) (path string, lo, hi int64, err error) {
	i := strings.LastIndexByte(name, ':')
	if i < 0 {
		return name, 0, 0, nil
	}
	path, r := name[:i], name[i+1:]
	if r == "" || (r[0] != '-' && (r[0] < '0' || r[0] > '9')) {
		return name, 0, 0, nil
	}
	bad := fmt.Errorf("bad partition range %q", name)
	los, his, dash := strings.Cut(r, "-")
	if los != "" {
		if lo, err = ParseSize(los); err != nil {
			return "", 0, 0, bad
		}
	}
	if dash && his != "" {
		if hi, err = ParseSize(his); err != nil {
			return "", 0, 0, bad
		}
	}
	return path, lo, hi, nil
}

// ParseSize parses a number in C syntax (decimal, 0x hex, 0 octal) with
// an optional k, m, g or t suffix (powers of 1024).
func ParseSize(s string) (int64, error) {
	mult := int64(1)
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'k', 'K':
			mult = 1 << 10
		case 'm', 'M':
			mult = 1 << 20
		case 'g', 'G':
			mult = 1 << 30
		case 't', 'T':
			mult = 1 << 40
		}
		if mult > 1 {
			s = s[:n-1]
		}
	}
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, fmt.Errorf("bad number %q", s)
	}
	v, err := strconv.ParseInt(s, 0, 64)
	if err != nil || v < 0 || v > (1<<62)/mult {
		return 0, fmt.Errorf("bad number %q", s)
	}
	return v * mult, nil
}

// openFile opens a partition by name, read-only or for writing.
func openFile(name string, write bool) (*file, error) {
	path, lo, hi := name, int64(0), int64(0)
	if _, err := os.Stat(name); err != nil {
		// Not a file by that whole name: try it as file:range.
		var perr error
		path, lo, hi, perr = parsePartName(name)
		if perr != nil {
			return nil, perr
		}
	}
	mode := os.O_RDONLY
	if write {
		mode = os.O_RDWR
	}
	f, err := os.OpenFile(path, mode, 0)
	if err != nil {
		return nil, err
	}
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		f.Close()
		return nil, err
	}
	if hi == 0 {
		hi = end
	}
	if hi > end || lo > hi {
		f.Close()
		return nil, fmt.Errorf("partition %s: range [%d,%d) outside file of %d bytes", name, lo, hi, end)
	}
	return &file{name: name, f: f, r: f, lo: lo, size: hi - lo}, nil
}

var errOutside = errors.New("read outside partition")

// ReadAt reads len(b) bytes at off within the range.
func (p *file) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(b)) > p.size {
		return 0, fmt.Errorf("partition %s: %w: %#x+%d", p.name, errOutside, off, len(b))
	}
	n, err := p.r.ReadAt(b, p.lo+off)
	if err == io.EOF && n == len(b) {
		err = nil
	}
	return n, err
}

// WriteAt writes b at off within the range.
func (p *file) WriteAt(b []byte, off int64) (int, error) {
	if p.f == nil {
		return 0, fmt.Errorf("arena image %s: read only", p.name)
	}
	if off < 0 || off+int64(len(b)) > p.size {
		return 0, fmt.Errorf("partition %s: write outside partition: %#x+%d", p.name, off, len(b))
	}
	return p.f.WriteAt(b, p.lo+off)
}

func (p *file) Sync() error {
	if p.f == nil {
		return nil
	}
	return p.f.Sync()
}

func (p *file) Close() error {
	if p.f == nil {
		return nil
	}
	return p.f.Close()
}
