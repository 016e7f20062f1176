package demo

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// DirMarker is the file the demo writes in a directory it creates. Only a
// directory holding it is reused; any other non-empty directory is refused.
const DirMarker = ".concord-demo"

// ownFiles are the files a demo run writes in its directory (SQLite files with
// their journals and the queue lock). Reusing a directory removes these and
// nothing else.
var ownFiles = []string{
	"concord.yaml", "hubspot.token", "tryton.password", "odoo.password", "console.password", "console.hash",
	"erp.db", "erp.db-wal", "erp.db-shm", "erp.db-journal",
	"concord.db", "concord.db-wal", "concord.db-shm", "concord.db-journal", "concord.db.queue.lock",
}

// ErrDirNotOurs means the directory given to the demo holds files and was not
// created by the demo: it is left untouched.
var ErrDirNotOurs = errors.New("directory is not empty and was not created by concord demo")

// PrepareDir makes dir ready for a fresh demo run. A missing or empty directory
// is created and marked (DirMarker); a directory the demo marked earlier is
// reused, with the files of the earlier run removed (only those: anything else
// in it stays). A non-empty directory without the marker is refused with
// ErrDirNotOurs, and so is a path that is not a directory. It deletes nothing
// the demo did not write.
func PrepareDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
	case err != nil:
		return fmt.Errorf("check %s: %w", dir, err)
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, err)
	}
	if len(entries) == 0 {
		return writeMarker(dir)
	}
	if _, err := os.Stat(filepath.Join(dir, DirMarker)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: %w (no %s file in it); give --dir a new or empty directory", dir, ErrDirNotOurs, DirMarker)
		}
		return fmt.Errorf("check %s: %w", dir, err)
	}
	for _, name := range ownFiles {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("reset %s: %w", dir, err)
		}
	}
	return nil
}

func writeMarker(dir string) error {
	text := "This directory was created by concord demo, which may reuse it and then replaces\n" +
		"only its own files (concord.yaml, concord.db, erp.db, the secret files).\n"
	if err := os.WriteFile(filepath.Join(dir, DirMarker), []byte(text), 0o644); err != nil {
		return fmt.Errorf("mark %s: %w", dir, err)
	}
	return nil
}

// DatabaseName is the name of the Tryton database the demo clones for dir:
// concord_demo_ and the first 8 hex digits of the SHA-256 of dir's absolute
// path, so that two demo directories never share (or drop) one database, and
// the same directory gets its own database back.
func DatabaseName(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("demo database name: %w", err)
	}
	sum := sha256.Sum256([]byte(filepath.Clean(abs)))
	return "concord_demo_" + hex.EncodeToString(sum[:])[:8], nil
}
