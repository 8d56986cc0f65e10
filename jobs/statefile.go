package jobs

import (
	"os"
	"path/filepath"
)

// The state directory's files (config, jobs/N, targets/NAME/cursor) are
// replaced whole, through writeFile.

// writeFile replaces the file at path with data, atomically and
// durably. It takes no engine lock, and must be called holding none of
// e.mu: a slow disk delays only the writer.
func (e *Engine) writeFile(path string, data []byte) error {
	if e.opts.hook != nil {
		if err := e.opts.hook(path); err != nil {
			return err
		}
	}
	return writeAtomic(path, data)
}

// writeAtomic replaces the file at path with data: a temporary file in
// the same directory, written and synced, renamed over path, and the
// directory synced. A crash leaves the old contents or the new, never
// a mixture. Any failure is returned, the directory's sync included;
// the temporary file does not stay.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
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
	return syncDir(dir)
}

// syncDir makes a directory's entries durable.
func syncDir(dir string) error {
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
