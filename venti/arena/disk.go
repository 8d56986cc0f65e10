package arena

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"strconv"
	"time"
)

// The /disk pages, as plan9port venti's (srv/httpd.c): the list of
// disks, an arena partition's header and table, and an arena's head,
// tail and table of contents, one directory block of it in full and the
// others as their first clump with a "more" link. Only the store's own
// partitions are shown: the disk parameter must name one exactly.

// plan9Hex formats as C's %#llx: 0 without a prefix.
func plan9Hex(v int64) string {
	if v == 0 {
		return "0"
	}
	return fmt.Sprintf("%#x", v)
}

// ctimeGMT formats a time as Plan 9's ctime does in GMT.
func ctimeGMT(t uint32) string {
	return time.Unix(int64(t), 0).UTC().Format("Mon Jan _2 15:04:05 GMT 2006")
}

func writeDisks(w io.Writer, parts []*Partition) {
	io.WriteString(w, "<h1>venti disks</h1>\n<pre>\n")
	for i, p := range parts {
		if i > 0 {
			io.WriteString(w, "\n")
		}
		first := ""
		if len(p.Arenas) > 0 {
			first = p.Arenas[0].Name
		}
		n := html.EscapeString(p.Name())
		fmt.Fprintf(w, "<a href=\"/disk?disk=%s&type=a\">%s</a> %s\n", n, n, html.EscapeString(first))
	}
	io.WriteString(w, "</pre>\n")
}

func writePartHead(w io.Writer, p *Partition) {
	fmt.Fprintf(w, "<h1>arena partition %s</h1>\n<pre>\nversion=%d blocksize=%d base=%d\n</pre>\n",
		html.EscapeString(p.Name()), ArenaPartVersion, p.BlockSize, p.ArenaBase)
}

func writePartition(w io.Writer, p *Partition) {
	writePartHead(w, p)
	io.WriteString(w, "<h2>table</h2>\n<pre>\n")
	n := html.EscapeString(p.Name())
	for _, a := range p.Arenas {
		fmt.Fprintf(w, "<a href=\"/disk?disk=%s&type=a&arena=%s\">%s</a> %d %d\n", n, html.EscapeString(a.Name), html.EscapeString(a.Name), a.Start, a.Stop)
	}
	io.WriteString(w, "</pre>\n")
}

// writeArenaPage writes an arena's page, directory block cib in full.
func writeArenaPage(w io.Writer, p *Partition, a *Arena, cib int) error {
	writePartHead(w, p)
	fmt.Fprintf(w, "<h2>arena %s</h2>\n<pre>start=%s end=%s<pre>\n", html.EscapeString(a.Name), plan9Hex(a.Start), plan9Hex(a.Stop))
	fmt.Fprintf(w, "head:\n<pre>\nversion=%d name=%s blocksize=%d size=%s clumpmagic=%#x\n</pre><br><br>\n",
		a.Version, html.EscapeString(a.Name), a.BlockSize, plan9Hex(a.Stop-a.Start), a.ClumpMagic)
	fmt.Fprintf(w, "tail:\n<pre>\nversion=%d name=%s\nctime=%d %s\nwtime=%d %s\nclumpmagic=%#x\nscore %v\n",
		a.Version, html.EscapeString(a.Name), a.Ctime, ctimeGMT(a.Ctime), a.Wtime, ctimeGMT(a.Wtime), a.ClumpMagic, a.Score)
	for _, st := range []struct {
		what string
		s    Stats
	}{{"diskstats", a.Disk}, {"memstats", a.Mem}} {
		fmt.Fprintf(w, "%s:\n\tclumps=%d cclumps=%d used=%s uncsize=%s sealed=%d\n",
			st.what, st.s.Clumps, st.s.CClumps, commas(st.s.Used), commas(st.s.Uncsize), b2u(st.s.Sealed))
	}
	io.WriteString(w, "<h2>table of contents</h2>\n<pre>\n type   size uncsize score\n")
	dir, err := a.ReadDir(0, a.Mem.Clumps)
	if err != nil {
		return err
	}
	per := a.BlockSize / ClumpInfoSize
	pn, an := html.EscapeString(p.Name()), html.EscapeString(a.Name)
	var off int64
	for i, ci := range dir {
		blk := i / per
		if blk == cib || i%per == 0 {
			fmt.Fprintf(w, "%5d %6d %7d %v at <a href=\"/disk?disk=%s&type=a&arena=%s&clump=%s&score=%v\">%s</a>",
				ci.Type(), ci.Size, ci.Uncsize, ci.Score, pn, an, plan9Hex(off), ci.Score, plan9Hex(off))
			if blk != cib {
				fmt.Fprintf(w, "  <font size=-1><a href=\"/disk?disk=%s&type=a&arena=%s&cib=%d\">more</a></font>", pn, an, blk)
			}
			io.WriteString(w, "\n")
		}
		off += ClumpSize + int64(ci.Size)
	}
	io.WriteString(w, "</pre>\n")
	return nil
}

// serveDisk answers /disk?disk=PART&type=a[&arena=NAME[&cib=N]];
// snap returns an arena as its trailer on disk has it.
func serveDisk(w http.ResponseWriter, r *http.Request, parts []*Partition, snap func(*Arena) (*Arena, error)) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	q := r.URL.Query()
	name := q.Get("disk")
	if name == "" {
		writeDisks(w, parts)
		return
	}
	var p *Partition
	for _, x := range parts {
		if x.Name() == name {
			p = x
		}
	}
	if p == nil || q.Get("type") != "a" {
		http.NotFound(w, r)
		return
	}
	an := q.Get("arena")
	if an == "" {
		writePartition(w, p)
		return
	}
	a := p.Arena(an)
	if a == nil {
		http.NotFound(w, r)
		return
	}
	a, err := snap(a)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	cib := 0
	if c := q.Get("cib"); c != "" {
		if cib, err = strconv.Atoi(c); err != nil || cib < 0 {
			http.Error(w, "bad cib", http.StatusBadRequest)
			return
		}
	}
	if err := writeArenaPage(w, p, a, cib); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

// diskSnapshot is an arena of the store as its trailer on disk says:
// its directory on disk matches that.
func (s *Store) diskSnapshot(a *Arena) (*Arena, error) {
	s.mu.Lock()
	c := *a
	s.mu.Unlock()
	if err := c.readTrailer(); err != nil {
		return nil, err
	}
	return &c, nil
}
