package main

import (
	"fmt"
	"os"
)

// checkNamespace refuses a name space directory that another user
// could use to sit between our clients and us: one that is a symbolic
// link, not a directory, not ours, or writable by group or others.
// plan9port's getns refuses the same (it wants mode 0700 exactly).
func checkNamespace(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	bad := func(why string, a ...any) error {
		return fmt.Errorf("bad name space directory %s: %s", dir, fmt.Sprintf(why, a...))
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return bad("a symbolic link")
	case !fi.IsDir():
		return bad("not a directory")
	}
	if uid, ok := owner(fi); ok && uid != os.Getuid() {
		return bad("owned by uid %d, not %d", uid, os.Getuid())
	}
	if fi.Mode().Perm()&0022 != 0 {
		return bad("mode %#o lets others replace the socket", fi.Mode().Perm())
	}
	return nil
}
