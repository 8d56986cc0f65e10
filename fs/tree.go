package fs

import (
	"path"
	"slices"
	"strconv"
	"strings"

	"9fans.net/go/plan9"
)

// The tree. Paths are clean and absolute. A node exists if the engine
// says so at the moment it is looked up.
var rootFiles = []string{"ctl", "status", "rootscor", "wrcmd", "log", "targets", "jobs"}

var jobFiles = []string{"status", "ctl", "report", "wait"}

func isDir(p string) bool {
	switch elems(p) {
	case 0:
		return true
	case 1:
		return p == "/targets" || p == "/jobs"
	case 2:
		return true // /targets/NAME, /jobs/N
	}
	return false
}

func elems(p string) int {
	if p == "/" {
		return 0
	}
	return strings.Count(p, "/")
}

// perm returns a file's permissions.
func perm(p string) plan9.Perm {
	if isDir(p) {
		return plan9.DMDIR | 0555
	}
	switch path.Base(p) {
	case "ctl", "wrcmd":
		return 0666 // /ctl, /wrcmd, /jobs/N/ctl
	}
	return 0444
}

// perm returns a file's permissions as this connection sees them: no
// write permission on one that may not write.
func (c *conn) perm(p string) plan9.Perm {
	if !c.rw {
		return perm(p) &^ 0222
	}
	return perm(p)
}

// exists reports whether p names a node now. It asks the engine for
// its lists, never for a status file: those are rendered once, at open.
func (c *conn) exists(p string) bool {
	e := c.s.Engine
	f := strings.Split(strings.TrimPrefix(p, "/"), "/")
	switch {
	case p == "/":
		return true
	case len(f) == 1:
		return contains(rootFiles, f[0])
	case f[0] == "targets":
		if !contains(e.Targets(), f[1]) {
			return false
		}
		return len(f) == 2 || (len(f) == 3 && f[2] == "status")
	case f[0] == "jobs":
		id, err := strconv.Atoi(f[1])
		if err != nil || strconv.Itoa(id) != f[1] || !slices.Contains(e.Jobs(), id) {
			return false
		}
		return len(f) == 2 || (len(f) == 3 && contains(jobFiles, f[2]))
	}
	return false
}

// children lists a directory.
func (c *conn) children(p string) []string {
	e := c.s.Engine
	switch p {
	case "/":
		return rootFiles
	case "/targets":
		return e.Targets()
	case "/jobs":
		var out []string
		for _, id := range e.Jobs() {
			out = append(out, strconv.Itoa(id))
		}
		return out
	}
	if strings.HasPrefix(p, "/targets/") {
		return []string{"status"}
	}
	return jobFiles
}

// dir returns the stat of p.
func (c *conn) dir(p string, uid string) *plan9.Dir {
	name := path.Base(p)
	if p == "/" {
		name = "/"
	}
	return &plan9.Dir{
		Qid:   c.s.qid(p),
		Mode:  c.perm(p),
		Atime: uint32(c.s.now().Unix()),
		Mtime: uint32(c.s.now().Unix()),
		Name:  name,
		Uid:   uid,
		Gid:   uid,
		Muid:  uid,
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
