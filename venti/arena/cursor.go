package arena

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// A Position is how much of one arena's clump log a target has.
type Position struct {
	Offset int64 // log offset of the first clump not yet copied
	Done   bool  // the arena is sealed and all of it copied: never read again
}

// A Cursor records, per source arena (by name, unique in a venti), how
// far a target has been brought. The zero value (nil) means nothing
// copied yet.
type Cursor map[string]Position

// Clone returns a copy of c.
func (c Cursor) Clone() Cursor {
	d := make(Cursor, len(c))
	for k, v := range c {
		d[k] = v
	}
	return d
}

// Marshal renders c as text: a comment line, then "name 0xoffset" or
// "name 0xoffset done" per arena, sorted by name.
func (c Cursor) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString("# replfs ventiprog cursor: arena, clump log offset copied, done once sealed and complete\n")
	names := make([]string, 0, len(c))
	for n := range c {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := c[n]
		fmt.Fprintf(&b, "%s %#x", n, p.Offset)
		if p.Done {
			b.WriteString(" done")
		}
		b.WriteString("\n")
	}
	return b.Bytes()
}

// ParseCursor parses Marshal's text. Arena names have no spaces in
// cursor files; a name with spaces cannot be recorded.
func ParseCursor(text []byte) (Cursor, error) {
	c := Cursor{}
	sc := bufio.NewScanner(bytes.NewReader(text))
	for ln := 1; sc.Scan(); ln++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 || len(f) > 3 || (len(f) == 3 && f[2] != "done") {
			return nil, fmt.Errorf("cursor line %d: bad line %q", ln, line)
		}
		off, err := strconv.ParseInt(f[1], 0, 64)
		if err != nil || off < 0 {
			return nil, fmt.Errorf("cursor line %d: bad offset %q", ln, f[1])
		}
		c[f[0]] = Position{Offset: off, Done: len(f) == 3}
	}
	return c, nil
}

// LoadCursor reads a cursor file; a missing file is an empty cursor.
func LoadCursor(path string) (Cursor, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return Cursor{}, nil
	}
	if err != nil {
		return nil, err
	}
	c, err := ParseCursor(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// SaveCursor replaces the cursor file atomically and durably: a
// temporary file, fsync, rename, fsync of the directory. A crash leaves
// the old cursor or the new, never a mixture. Any failure is returned,
// the directory's fsync included.
func SaveCursor(path string, c Cursor) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(c.Marshal())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0600)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
