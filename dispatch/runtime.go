// This file ships the embedded Python runtime (dispatch/pyrt) inside the
// binary and unpacks it where the daemon owns it.

package dispatch

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

//go:embed pyrt/bootstrap.py all:pyrt/mpgate all:pyrt/mod_python
var runtimeFS embed.FS

// runtimeFiles lists the runtime's files (relative to pyrt/), skipping
// bytecode caches that a developer's checkout may hold.
func runtimeFiles() ([]string, error) {
	var files []string
	err := fs.WalkDir(runtimeFS, "pyrt", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "__pycache__" {
				return fs.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ".pyc") {
			return nil
		}
		files = append(files, strings.TrimPrefix(p, "pyrt/"))
		return nil
	})
	return files, err
}

// RuntimeVersion is a digest of the embedded runtime; it names the directory
// the runtime is unpacked into, so two mpgate versions never share one.
func RuntimeVersion() (string, error) {
	files, err := runtimeFiles()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, f := range files {
		b, err := runtimeFS.ReadFile(path.Join("pyrt", f))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", f, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// UnpackRuntime writes the embedded runtime into dir/pyrt-VERSION (if it is
// not there already) and returns the path of its bootstrap script. Files are
// written to a temporary directory first and renamed into place, so a
// half-written runtime is never used.
func UnpackRuntime(dir string) (string, error) {
	ver, err := RuntimeVersion()
	if err != nil {
		return "", fmt.Errorf("python runtime: %w", err)
	}
	dst := filepath.Join(dir, "pyrt-"+ver)
	boot := filepath.Join(dst, "bootstrap.py")
	if _, err := os.Stat(boot); err == nil {
		return boot, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("python runtime: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, ".pyrt-")
	if err != nil {
		return "", fmt.Errorf("python runtime: %w", err)
	}
	defer os.RemoveAll(tmp)
	files, err := runtimeFiles()
	if err != nil {
		return "", fmt.Errorf("python runtime: %w", err)
	}
	for _, f := range files {
		b, err := runtimeFS.ReadFile(path.Join("pyrt", f))
		if err != nil {
			return "", fmt.Errorf("python runtime: %w", err)
		}
		p := filepath.Join(tmp, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", fmt.Errorf("python runtime: %w", err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return "", fmt.Errorf("python runtime: %w", err)
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", fmt.Errorf("python runtime: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		// Another daemon may have unpacked the same version meanwhile.
		if _, serr := os.Stat(boot); serr == nil {
			return boot, nil
		}
		return "", fmt.Errorf("python runtime: %w", err)
	}
	return boot, nil
}
