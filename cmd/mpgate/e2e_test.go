package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mpgate/mpgate/internal/apachetest"
)

// mpgateBin is the mpgate binary built once for the end-to-end tests, in
// a directory Apache's user (www-data, when the tests run as root) can read.
var mpgateBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mpgate-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Chmod(dir, 0o755)
	mpgateBin = filepath.Join(dir, "mpgate")
	build := exec.Command("go", "build", "-tags", "urfave_cli_no_docs", "-o", mpgateBin, ".") // as make build
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build mpgate:", err)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// stageSite copies testdata/site into a directory Apache's user can read
// and returns it with site.conf's @SITE@ replaced by it.
func stageSite(t *testing.T) (dir, conf string) {
	t.Helper()
	return stageSiteFrom(t, "testdata/site")
}

// stageSiteFrom is stageSite for the site in the directory src (holding
// site.conf and whatever it refers to as @SITE@/...).
func stageSiteFrom(t *testing.T, src string) (dir, conf string) {
	t.Helper()
	dir = apachetest.TempDir(t)
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		dst := filepath.Join(dir, rel)
		if fi.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, bytes.ReplaceAll(b, []byte("@SITE@"), []byte(dir)), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	apachetest.Chown(t, dir)
	return dir, filepath.Join(dir, "site.conf")
}

// preview runs `mpgate preview conf --via via` and returns a client for it.
// The preview is stopped with SIGTERM when the test ends, and must exit.
func preview(t *testing.T, conf, via string) *apachetest.Server {
	t.Helper()
	s, _ := previewRun(t, conf, via)
	return s
}

// previewRun is preview that also returns the preview's --run-dir, where
// Apache's error log (mpgate's included) is logs/error.log.
func previewRun(t *testing.T, conf, via string) (*apachetest.Server, string) {
	t.Helper()
	return previewRunArgs(t, conf, via)
}

// previewRunArgs is previewRun with extra preview flags (--watch ...).
func previewRunArgs(t *testing.T, conf, via string, extra ...string) (*apachetest.Server, string) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		port := apachetest.FreePort(t)
		run := apachetest.TempDir(t)
		args := append([]string{"preview", conf, "--listen", "127.0.0.1:" + strconv.Itoa(port), "--via", via, "--run-dir", run}, extra...)
		cmd := exec.Command(mpgateBin, args...)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ready := make(chan bool, 1)
		go func() {
			s := bufio.NewScanner(stdout)
			ok := false
			for s.Scan() {
				if strings.Contains(s.Text(), "serving") && !ok {
					ok = true
					ready <- true
				}
			}
			if !ok {
				ready <- false
			}
		}()
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		var up bool
		select {
		case up = <-ready:
		case <-time.After(60 * time.Second):
		}
		if !up {
			cmd.Process.Kill()
			<-exited
			if attempt < 2 && strings.Contains(stderr.String(), "Address already in use") {
				continue // the free port was taken meanwhile
			}
			t.Fatalf("mpgate preview did not start:\n%s", stderr.String())
		}
		t.Cleanup(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				t.Errorf("mpgate preview did not stop within 30s of SIGTERM")
			}
			if t.Failed() {
				t.Logf("preview output:\n%s", tailLines(stderr.String(), 60))
				if b, err := os.ReadFile(filepath.Join(run, "logs", "error.log")); err == nil {
					t.Logf("error.log:\n%s", tailLines(string(b), 60))
				}
			}
		})
		return apachetest.Remote(port, ""), run
	}
}

func tailLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// diffCase is one request sent to real mod_python and to mpgate.
type diffCase struct {
	method, path string
	body         string
	headers      []string
}

// siteCases cover the core request API of the acceptance list: SetHandler,
// AddHandler .py, stacked handlers, module::function, PythonOption
// overrides and masking in a subdirectory, PythonDebug, PythonPath, handler
// results and errors, request bodies, static files next to handlers.
var siteCases = []diffCase{
	{method: "GET", path: "/sh/x"},
	{method: "GET", path: "/sh/x/y/z?a=1&b=2"},
	{method: "GET", path: "/sh/?forbidden"},
	{method: "GET", path: "/sh/x?notfound"},
	{method: "GET", path: "/sh/x?raise"},
	{method: "GET", path: "/sh/x?none"},
	{method: "GET", path: "/sh/x?redirect"},
	{method: "GET", path: "/sh/x?status"},
	{method: "GET", path: "/sh/x?headers", headers: []string{"X-Test-One: 1", "X-Test-Two: two"}},
	{method: "POST", path: "/sh/x?post", body: "name=value&other=thing", headers: []string{"Content-Type: application/x-www-form-urlencoded"}},
	{method: "POST", path: "/sh/x?lines", body: strings.Repeat("a", 30001) + "\n" + strings.Repeat("b", 10) + "\nlast"},
	{method: "HEAD", path: "/sh/x"},
	{method: "GET", path: "/ah/page.py"},
	{method: "GET", path: "/ah/page.py/extra/path"},
	{method: "GET", path: "/ah/readme.txt"},
	{method: "GET", path: "/ah/sub/page.py"},
	{method: "GET", path: "/ah/nothere.py"},
	{method: "GET", path: "/dbg/broken.py"},
	{method: "GET", path: "/stack/x"},
	{method: "GET", path: "/stack/x?stop"},
	{method: "GET", path: "/imp/x"},
	{method: "GET", path: "/imp/x?missing"},
	{method: "GET", path: "/imp/x?broken"},
	{method: "GET", path: "/redir/x?a=b"},
}

// normalizeTraceback reduces the frames of mod_python's own dispatcher in a
// PythonDebug page (file names and line numbers of apache.py differ between
// the Debian build and mpgate's runtime) to one placeholder line.
var tracebackFrame = regexp.MustCompile(`(?m)^  File &quot;[^\n]*mod_python/apache\.py&quot;, line \d+, in \w+\n(    .*\n)*`)

func normalizeTraceback(b []byte, _ *apachetest.Server) []byte {
	return tracebackFrame.ReplaceAll(b, []byte("  (mod_python dispatcher frames)\n"))
}

// TestDifferential sends every case to real mod_python 3.5 and to mpgate
// behind the same Apache, through mod_fcgid and mod_proxy_fcgi, and compares
// status, headers and bodies.
func TestDifferential(t *testing.T) {
	_, conf, ref := referenceSite(t, "testdata/site")
	for _, via := range []string{"fcgid", "proxy"} {
		t.Run(via, func(t *testing.T) {
			got := preview(t, conf, via)
			for _, c := range siteCases {
				t.Run(c.method+" "+c.path, func(t *testing.T) {
					var body io.Reader
					if c.body != "" {
						body = strings.NewReader(c.body)
					}
					req, err := http.NewRequest(c.method, c.path, body)
					if err != nil {
						t.Fatal(err)
					}
					for _, h := range c.headers {
						k, v, _ := strings.Cut(h, ":")
						req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
					}
					apachetest.Compare(t, ref, got, req, normalizeTraceback)
				})
			}
		})
	}
}
