package arena

import (
	"fmt"
	"io"
	"net/http"
	"strconv"

	"replfs/venti"
)

// The HTTP pages a venti serves about its arenas, in plan9port's exact
// text (src/cmd/venti/srv/httpd.c dindex, darena and sindex; xml.c
// xmlindex). plan9port prints the lines about its index sections from
// its on-disk index; we have none, so those say what our in-memory
// index holds and there are no sect lines.

// indexView is the index as the pages show it.
type indexView struct {
	name      string
	blockSize int // plan9port's index bucket size; we show the arena block size
	tabSize   int64
	buckets   int
	div       int
}

// arenaView is one arena as the pages show it, a snapshot.
type arenaView struct {
	name      string
	part      string
	base      int64
	blockSize int
	dataSize  int64
	version   int
	ctime     uint32
	wtime     uint32
	score     venti.Score
	mem, disk Stats
	amap0     uint64 // index address range
	amap1     uint64
}

func viewOf(a *Arena, part string, addr uint64) arenaView {
	return arenaView{
		name: a.Name, part: part, base: a.Base(), blockSize: a.BlockSize, dataSize: a.DataSize(),
		version: a.Version, ctime: a.Ctime, wtime: a.Wtime, score: a.Score, mem: a.Mem, disk: a.Disk,
		amap0: addr, amap1: addr + uint64(a.DataSize()),
	}
}

// writeIndexPage writes /index: the index lines, then a group per arena
// that holds clumps.
func writeIndexPage(w io.Writer, ix indexView, arenas []arenaView) {
	fmt.Fprintf(w, "index=%s version=1 blocksize=%d tabsize=%d\n", ix.name, ix.blockSize, ix.tabSize)
	fmt.Fprintf(w, "\tbuckets=%d div=%d\n", ix.buckets, ix.div)
	for _, a := range arenas {
		if a.mem.Clumps == 0 {
			continue
		}
		fmt.Fprintf(w, "arena=%s at index [%d,%d)\n\t", a.name, a.amap0, a.amap1)
		fmt.Fprintf(w, "arena='%s' on %s at [%d,%d)\n\tversion=%d created=%d modified=%d",
			a.name, a.part, a.base, a.base+a.dataSize+2*int64(a.blockSize), a.version, a.ctime, a.wtime)
		if a.mem.Sealed {
			io.WriteString(w, " mem=sealed")
		}
		if a.disk.Sealed {
			io.WriteString(w, " disk=sealed")
		}
		io.WriteString(w, "\n")
		if a.score != (venti.Score{}) {
			fmt.Fprintf(w, "\tscore=%v\n", a.score)
		}
		for _, st := range []struct {
			what string
			s    Stats
		}{{"written", a.mem}, {"indexed", a.disk}} {
			fmt.Fprintf(w, "\t%s: clumps=%d compressed clumps=%d data=%s compressed data=%s storage=%s\n",
				st.what, st.s.Clumps, st.s.CClumps, commas(st.s.Uncsize),
				commas(st.s.Used-uint64(st.s.Clumps)*ClumpSize), commas(st.s.Used+uint64(st.s.Clumps)*ClumpInfoSize))
		}
	}
}

// writeXIndexPage writes /xindex. As plan9port's, it lists every arena,
// its stop attribute is base+2*blocksize, and values are not escaped.
func writeXIndexPage(w io.Writer, ix indexView, arenas []arenaView) {
	fmt.Fprintf(w, "<index name=\"%s\" version=\"1\" blocksize=\"%d\" tabsize=\"%d\" buckets=\"%d\" buckdiv=\"%d\">\n",
		ix.name, ix.blockSize, ix.tabSize, ix.buckets, ix.div)
	io.WriteString(w, "\t<sects>\n\t</sects>\n\t<amaps>\n")
	for _, a := range arenas {
		fmt.Fprintf(w, "\t\t<amap name=\"%s\" start=\"%d\" stop=\"%d\"/>\n", a.name, a.amap0, a.amap1)
	}
	io.WriteString(w, "\t</amaps>\n\t<arenas>\n")
	for _, a := range arenas {
		fmt.Fprintf(w, "\t\t<arena name=\"%s\" version=\"%d\" partition=\"%s\" blocksize=\"%d\" start=\"%d\" stop=\"%d\" created=\"%d\" modified=\"%d\"",
			a.name, a.version, a.part, a.blockSize, a.base, a.base+2*int64(a.blockSize), a.ctime, a.wtime)
		if a.mem.Sealed {
			io.WriteString(w, ` sealed="yes"`)
		}
		if a.score != (venti.Score{}) {
			fmt.Fprintf(w, ` score="%v"`, a.score)
		}
		fmt.Fprintf(w, " clumps=\"%d\" compressedclumps=\"%d\" data=\"%d\" compresseddata=\"%d\" storage=\"%d\"/>\n",
			a.mem.Clumps, a.mem.CClumps, a.mem.Uncsize, a.mem.Used-uint64(a.mem.Clumps)*ClumpSize,
			a.mem.Used+uint64(a.mem.Clumps)*ClumpInfoSize)
	}
	io.WriteString(w, "\t</arenas>\n</index>\n")
}

// writeStoragePage writes /storage: totals over the arenas.
func writeStoragePage(w io.Writer, ix indexView, arenas []arenaView) {
	var active, clumps, cclumps, uncsize, used, size uint64
	for _, a := range arenas {
		if a.mem.Clumps != 0 {
			active++
			clumps += uint64(a.mem.Clumps)
			cclumps += uint64(a.mem.CClumps)
			uncsize += a.mem.Uncsize
			used += a.mem.Used
		}
		size += uint64(a.dataSize)
	}
	fmt.Fprintf(w, "index=%s\n", ix.name)
	fmt.Fprintf(w, "total arenas=%s active=%s\n", commas(uint64(len(arenas))), commas(active))
	fmt.Fprintf(w, "total space=%s used=%s\n", commas(size), commas(used+clumps*ClumpInfoSize))
	fmt.Fprintf(w, "clumps=%s compressed clumps=%s data=%s compressed data=%s\n",
		commas(clumps), commas(cclumps), commas(uncsize), commas(used-clumps*ClumpSize))
}

// commas prints n with thousands separators, as Plan 9's %,d.
func commas(n uint64) string {
	s := strconv.FormatUint(n, 10)
	var b []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, s[i])
	}
	return string(b)
}

// views returns a snapshot of the store's arenas and index for the pages.
func (s *Store) views() (indexView, []arenaView) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ix := indexView{name: "main", buckets: len(s.idx.slots), div: 1}
	if len(s.parts) > 0 {
		ix.blockSize = s.parts[0].BlockSize
		ix.tabSize = s.parts[0].TabSize
	}
	v := make([]arenaView, len(s.arenas))
	for i, a := range s.arenas {
		v[i] = viewOf(a.Arena, a.part.Name(), a.addr)
	}
	return ix, v
}

// ServeHTTP serves venti's pages about the store: /index, /xindex,
// /storage, and /flushdcache and /flushicache, which sync.
func (s *Store) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	text := func() { w.Header().Set("Content-Type", "text/plain; charset=utf-8") }
	switch r.URL.Path {
	case "/index":
		text()
		ix, v := s.views()
		writeIndexPage(w, ix, v)
	case "/xindex":
		w.Header().Set("Content-Type", "text/xml")
		ix, v := s.views()
		writeXIndexPage(w, ix, v)
	case "/storage":
		text()
		ix, v := s.views()
		writeStoragePage(w, ix, v)
	case "/disk":
		serveDisk(w, r, s.parts, s.diskSnapshot)
	case "/log":
		text()
		w.Write(s.logText())
	case "/graph":
		s.serveGraph(w, r)
	case "/flushdcache", "/flushicache":
		if err := s.Sync(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		text()
		if r.URL.Path == "/flushdcache" {
			io.WriteString(w, "flushed dcache\n")
		} else {
			io.WriteString(w, "flushed icache\n")
		}
	default:
		http.NotFound(w, r)
	}
}

// partitionViews is views for partitions opened read-only, with index
// addresses assigned as venti's fmtindex does: in order from 1 MiB.
func partitionViews(parts []*Partition) (indexView, []arenaView) {
	var ix indexView
	var v []arenaView
	addr := uint64(indexBase)
	for i, p := range parts {
		if i == 0 {
			ix = indexView{name: "main", blockSize: p.BlockSize, tabSize: p.TabSize}
		}
		for _, a := range p.Arenas {
			v = append(v, viewOf(a, p.Name(), addr))
			addr += uint64(a.DataSize())
		}
	}
	return ix, v
}
