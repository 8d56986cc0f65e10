package arena

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
)

// WrCmd returns the wrarena command line that would carry a target on
// from cur, as the ventiprog scripts kept it in /n/9fat/wrcmd:
//
//	wrarena -h tcp!backup!17034 -o 794624 /dev/sdC0/arenas 0x12156
//
// for the first arena the target has not finished (the last arena when
// it has finished all). -o is the arena's head offset in the partition,
// in decimal; the clump offset is in hex, "0x0" at the start, so the
// scripts' sed rewrites still find it. It returns "" when there are no
// arenas.
func WrCmd(parts []*Partition, cur Cursor, target string) string {
	p, a := InProgress(parts, cur)
	if a == nil {
		return ""
	}
	return fmt.Sprintf("wrarena -h %s -o %d %s %#x", target, a.Start, p.Name(), cur[a.Name].Offset)
}

// InProgress returns the first arena, in order, that cur has not
// finished, and its partition; the last arena when all are finished;
// nil when there are none.
func InProgress(parts []*Partition, cur Cursor) (*Partition, *Arena) {
	var lp *Partition
	var la *Arena
	for _, p := range parts {
		for _, a := range p.Arenas {
			lp, la = p, a
			if !cur[a.Name].Done {
				return p, a
			}
		}
	}
	return lp, la
}

// A WrCmdLine is a parsed wrarena command.
type WrCmdLine struct {
	Host      string // -h, "" if absent ($venti)
	Start     int64  // -o: the arena's head offset
	Partition string
	Offset    int64 // the clump offset; 0 if absent
}

// ParseWrCmd parses a wrarena command line as the ventiprog scripts
// wrote them, "wrarena [-fv] [-M n] [-h host] [-o offset] partition
// [clumpoffset]", the program possibly named by a path. Numbers are read
// as C's strtoull(s, 0, 0) does: 0x hex, leading-0 octal, else decimal.
func ParseWrCmd(line string) (WrCmdLine, error) {
	var w WrCmdLine
	bad := func(why string) (WrCmdLine, error) {
		return WrCmdLine{}, fmt.Errorf("wrcmd: %s in %q", why, strings.TrimSpace(line))
	}
	f := strings.Fields(line)
	if len(f) == 0 || (f[0] != "wrarena" && !strings.HasSuffix(f[0], "/wrarena")) {
		return bad("not a wrarena command")
	}
	f = f[1:]
	var args []string
	for i := 0; i < len(f); i++ {
		switch f[i] {
		case "-f", "-v", "-fv", "-vf":
		case "-h", "-o", "-M":
			if i+1 >= len(f) {
				return bad("missing value for " + f[i])
			}
			switch f[i] {
			case "-h":
				w.Host = f[i+1]
			case "-o":
				v, err := strconv.ParseInt(f[i+1], 0, 64)
				if err != nil || v < 0 {
					return bad("bad -o " + f[i+1])
				}
				w.Start = v
			}
			i++
		default:
			if strings.HasPrefix(f[i], "-") {
				return bad("unknown flag " + f[i])
			}
			args = append(args, f[i])
		}
	}
	if len(args) < 1 || len(args) > 2 {
		return bad("want partition [clumpoffset]")
	}
	w.Partition = args[0]
	if len(args) == 2 {
		v, err := strconv.ParseInt(args[1], 0, 64)
		if err != nil || v < 0 {
			return bad("bad clump offset " + args[1])
		}
		w.Offset = v
	}
	return w, nil
}

// ImportWrCmd returns cur advanced to where a wrarena command says a
// target is: the arena whose head is at w.Start is copied to w.Offset,
// and every arena before it, in order, is taken as copied whole (the
// scripts moved on to the next arena by hand once one was full). The
// arena is found by its offset in the source partitions.
func ImportWrCmd(parts []*Partition, cur Cursor, w WrCmdLine) (Cursor, error) {
	next := cur.Clone()
	var before []*Arena
	for _, p := range parts {
		for _, a := range p.Arenas {
			if a.Start != w.Start {
				before = append(before, a)
				continue
			}
			if w.Offset > a.DataSize() {
				return nil, fmt.Errorf("wrcmd: offset %#x past arena %s", w.Offset, a.Name)
			}
			for _, b := range before {
				s, err := b.Snapshot()
				if err != nil {
					return nil, err
				}
				next[b.Name] = Position{Offset: int64(s.Mem.Used), Done: s.Mem.Sealed}
			}
			next[a.Name] = Position{Offset: w.Offset}
			return next, nil
		}
	}
	return nil, fmt.Errorf("wrcmd: no arena of the source starts at %d", w.Start)
}

// ImportBkupInfo reads an ANTS bkup.info file (rc assignments: the
// target as venti=..., then arenaname=0xoffset lines, later ones
// winning, # comments) and returns the target and cur advanced by it.
// Arenas it names that the source lacks are an error.
func ImportBkupInfo(parts []*Partition, cur Cursor, text string) (target string, next Cursor, err error) {
	known := map[string]bool{}
	for _, p := range parts {
		for _, a := range p.Arenas {
			known[a.Name] = true
		}
	}
	next = cur.Clone()
	sc := bufio.NewScanner(strings.NewReader(text))
	for ln := 1; sc.Scan(); ln++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, val, ok := strings.Cut(line, "=")
		if !ok {
			return "", nil, fmt.Errorf("bkup.info line %d: not an assignment: %q", ln, line)
		}
		val = strings.Trim(val, "'")
		if name == "venti" {
			target = val
			continue
		}
		if !known[name] {
			return "", nil, fmt.Errorf("bkup.info line %d: no arena %s in the source", ln, name)
		}
		off, err := strconv.ParseInt(val, 0, 64)
		if err != nil || off < 0 {
			return "", nil, fmt.Errorf("bkup.info line %d: bad offset %q", ln, val)
		}
		next[name] = Position{Offset: off}
	}
	return target, next, nil
}
