package config

import (
	"bytes"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// testLogger writes to t.Log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// mustParse parses src as "httpd.conf" with an in-memory file system
// holding files (absolute paths), and fails the test on errors.
func mustParse(t *testing.T, src string, files map[string]string) *Config {
	t.Helper()
	c, err := Parse("httpd.conf", []byte(src), Options{ServerRoot: "/etc/apache2", Logger: testLogger(t), fs: newMemFS(files)})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

// memFS is an in-memory fileSystem over absolute paths.
type memFS struct{ m fstest.MapFS }

func newMemFS(files map[string]string) memFS {
	m := fstest.MapFS{}
	for name, data := range files {
		m[strings.TrimPrefix(name, "/")] = &fstest.MapFile{Data: []byte(data), ModTime: time.Unix(0, 0)}
	}
	return memFS{m}
}

func rel(name string) string {
	name = strings.TrimPrefix(path.Clean(name), "/")
	if name == "" {
		return "."
	}
	return name
}

func (f memFS) ReadFile(name string) ([]byte, error)  { return fs.ReadFile(f.m, rel(name)) }
func (f memFS) Stat(name string) (fs.FileInfo, error) { return fs.Stat(f.m, rel(name)) }
func (f memFS) ReadDir(name string) ([]fs.DirEntry, error) {
	ents, err := fs.ReadDir(f.m, rel(name))
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	return ents, err
}

func explain(t *testing.T, m *Merged) string {
	t.Helper()
	var b bytes.Buffer
	if err := m.Explain(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
