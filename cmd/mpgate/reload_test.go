package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpgate/mpgate/internal/apachetest"
)

// reloadDeadline bounds the wait for an edit to show: the importer's
// settle window is milliseconds; the bound only guards against a hang.
const reloadDeadline = 10 * time.Second

// reloadSite is the staged testdata/reload site behind a preview.
type reloadSite struct {
	dir string
	run string // the daemon's run directory
	srv *apachetest.Server
}

func newReloadSite(t *testing.T, via string, extra ...string) *reloadSite {
	t.Helper()
	dir, conf := stageSiteFrom(t, "testdata/reload")
	srv, run := previewRunArgs(t, conf, via, extra...)
	return &reloadSite{dir: dir, run: filepath.Join(run, "run"), srv: srv}
}

func (s *reloadSite) path(rel string) string { return filepath.Join(s.dir, "htdocs", rel) }

// get returns status and body of one request.
func (s *reloadSite) get(t *testing.T, path string) (int, string) {
	t.Helper()
	r := s.srv.Get(t, path)
	return r.Status, string(r.Body)
}

// expect fails unless path answers 200 with body.
func (s *reloadSite) expect(t *testing.T, path, body string) {
	t.Helper()
	if st, got := s.get(t, path); st != 200 || got != body {
		t.Fatalf("GET %s = %d %q, want 200 %q", path, st, got, body)
	}
}

// await polls path until ok accepts the answer. Once it does, every later
// request must be accepted too: a change, once seen, stays (no worker
// serves the old code afterwards).
func (s *reloadSite) await(t *testing.T, path, what string, ok func(status int, body string) bool) {
	t.Helper()
	deadline := time.Now().Add(reloadDeadline)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	var st int
	var body string
	for {
		st, body = s.get(t, path)
		if ok(st, body) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: no %s within %v; last answer %d %q", path, what, reloadDeadline, st, tail(body, 600))
		}
		<-tick.C
	}
	for i := 0; i < 12; i++ {
		if st2, body2 := s.get(t, path); !ok(st2, body2) {
			t.Fatalf("GET %s: %s seen (%d %q), then request %d answered %d %q", path, what, st, tail(body, 300), i+1, st2, tail(body2, 600))
		}
	}
}

func (s *reloadSite) awaitBody(t *testing.T, path, body string) {
	t.Helper()
	s.await(t, path, fmt.Sprintf("200 %q", body), func(st int, b string) bool { return st == 200 && b == body })
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// writeInPlace rewrites a file the way `echo > file` does: truncate, write.
func writeInPlace(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeByRename saves a file the way editors and deploy tools do: a
// temporary file renamed over the old one.
func writeByRename(t *testing.T, path, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestReload edits a live site through every kind of save and checks that
// the next requests run the new code, with its dependents, through Apache
// and mod_proxy_fcgi.
func TestReload(t *testing.T) {
	s := newReloadSite(t, "proxy")

	// Two directories, the same module names, side by side.
	s.expect(t, "/a/x", "a index alpha v1")
	s.expect(t, "/b/x", "b index beta")
	s.expect(t, "/p/x", "p mypkg.sub u1 sub sees u1")
	s.expect(t, "/frozen/x", "frozen old")

	t.Run("in-place write", func(t *testing.T) {
		writeInPlace(t, s.path("a/config.py"), "NAME = 'alpha2'\n")
		s.awaitBody(t, "/a/x", "a index alpha2 v1")
		s.expect(t, "/b/x", "b index beta")
	})
	t.Run("atomic rename", func(t *testing.T) {
		writeByRename(t, s.path("a/helper.py"), "import time\nVALUE = 'v2'\nLOADED = repr(time.time())\n")
		s.awaitBody(t, "/a/x", "a index alpha2 v2")
	})
	t.Run("touch", func(t *testing.T) {
		_, before := s.get(t, "/a/x?loaded")
		future := time.Now().Add(time.Hour)
		if err := os.Chtimes(s.path("a/helper.py"), future, future); err != nil {
			t.Fatal(err)
		}
		s.await(t, "/a/x?loaded", "a new load time", func(st int, b string) bool { return st == 200 && b != before })
	})
	t.Run("delete and recreate", func(t *testing.T) {
		if err := os.Remove(s.path("a/helper.py")); err != nil {
			t.Fatal(err)
		}
		s.await(t, "/a/x", "500 naming the missing module", func(st int, b string) bool {
			return st == 500 && strings.Contains(b, "helper")
		})
		writeInPlace(t, s.path("a/helper.py"), "VALUE = 'v3'\nLOADED = ''\n")
		s.awaitBody(t, "/a/x", "a index alpha2 v3")
	})
	t.Run("syntax error and fix", func(t *testing.T) {
		writeByRename(t, s.path("a/config.py"), "NAME = 'broken\n")
		s.await(t, "/a/x", "500 with the SyntaxError (PythonDebug On)", func(st int, b string) bool {
			return st == 500 && strings.Contains(b, "SyntaxError") && strings.Contains(b, "config.py")
		})
		writeByRename(t, s.path("a/config.py"), "NAME = 'fixed'\n")
		s.awaitBody(t, "/a/x", "a index fixed v3")
	})
	t.Run("package member", func(t *testing.T) {
		writeByRename(t, s.path("p/mypkg/util.py"), "VALUE = 'u2'\n")
		s.awaitBody(t, "/p/x", "p mypkg.sub u2 sub sees u2")
	})
	t.Run("PythonAutoReload Off", func(t *testing.T) {
		writeByRename(t, s.path("frozen/dep.py"), "VALUE = 'new'\n")
		// A later edit elsewhere, once seen, proves the first was processed.
		writeByRename(t, s.path("b/config.py"), "NAME = 'beta2'\n")
		s.awaitBody(t, "/b/x", "b index beta2")
		s.expect(t, "/frozen/x", "frozen old")
	})
	t.Run("__mp_clone__", func(t *testing.T) {
		// The clone section has its own interpreter, whose only worker
		// serves these sequential requests: its hit counter must go on
		// by one at every request, across the reload.
		pid, hits := "", 0
		check := func(st int, b string) (version int) {
			var p string
			var h int
			if _, err := fmt.Sscanf(b, "clone %s %d %d", &p, &version, &h); err != nil || st != 200 {
				t.Fatalf("GET /clone/x = %d %q", st, b)
			}
			if pid != "" && (p != pid || h != hits+1) {
				t.Fatalf("GET /clone/x = %q after pid %s hits %d: want the same worker, hits %d (state carried by __mp_clone__)", b, pid, hits, hits+1)
			}
			pid, hits = p, h
			return version
		}
		for i := 0; i < 3; i++ {
			if v := check(s.get(t, "/clone/x")); v != 1 {
				t.Fatalf("VERSION %d before the edit", v)
			}
		}
		src, err := os.ReadFile(s.path("clone/index.py"))
		if err != nil {
			t.Fatal(err)
		}
		writeByRename(t, s.path("clone/index.py"), strings.Replace(string(src), "VERSION = 1", "VERSION = 2", 1))
		s.await(t, "/clone/x", "VERSION 2 with the counter carried over", func(st int, b string) bool { return check(st, b) == 2 })
	})
	t.Run("mpgate modules", func(t *testing.T) {
		out, err := exec.Command(mpgateBin, "modules", "--json", "--run-dir", s.run).CombinedOutput()
		if err != nil {
			t.Fatalf("mpgate modules: %v\n%s", err, out)
		}
		var rep controlReply
		if err := json.Unmarshal(out, &rep); err != nil {
			t.Fatalf("mpgate modules --json: %v\n%s", err, out)
		}
		found := false
		for _, w := range rep.Workers {
			for _, m := range w.Modules {
				if m.File == s.path("a/index.py") {
					found = true
					if m.Name != "index" || m.Generation < 2 ||
						!contains(m.Deps, s.path("a/config.py")) || !contains(m.Deps, s.path("a/helper.py")) {
						t.Errorf("a/index.py in mpgate modules: %+v; want name index, generation >= 2, deps config.py and helper.py", m)
					}
				}
			}
		}
		if !found {
			t.Fatalf("mpgate modules does not list %s:\n%s", s.path("a/index.py"), out)
		}
		text, err := exec.Command(mpgateBin, "modules", "--run-dir", s.run).CombinedOutput()
		if err != nil || !strings.Contains(string(text), "imports "+s.path("a/config.py")) {
			t.Fatalf("mpgate modules: %v\n%s", err, text)
		}
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestReloadPolling: with --watch poll (what a site on NFS gets, and what
// mpgate falls back to when inotify's limits are reached), edits are
// picked up by polling alone, here through mod_fcgid.
func TestReloadPolling(t *testing.T) {
	s := newReloadSite(t, "fcgid", "--watch", "poll", "--poll-interval", "50ms")
	s.expect(t, "/a/x", "a index alpha v1")
	writeByRename(t, s.path("a/config.py"), "NAME = 'polled'\n")
	s.awaitBody(t, "/a/x", "a index polled v1")
	writeInPlace(t, s.path("a/helper.py"), "VALUE = 'v9'\nLOADED = ''\n")
	s.awaitBody(t, "/a/x", "a index polled v9")
	out, err := exec.Command(mpgateBin, "modules", "--json", "--run-dir", s.run).CombinedOutput()
	var rep controlReply
	if err != nil || json.Unmarshal(out, &rep) != nil || rep.Watch != "poll" {
		t.Fatalf("mpgate modules: %v; want watch \"poll\" in\n%s", err, out)
	}
}

// TestReloadCommandUnderLoad: `mpgate reload` replaces every worker while
// requests keep coming, and none of them fails.
func TestReloadCommandUnderLoad(t *testing.T) {
	dir, conf := miniSite(t)
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(conf, []byte(strings.Replace(string(b), "<Directory "+dir+"/app>\n", "<Directory "+dir+"/app>\n Require all granted\n", 1)), 0o644)
	srv, run := previewRunArgs(t, conf, "proxy")
	pidOf := func() string {
		r := srv.Get(t, "/app/x")
		if r.Status != 200 {
			t.Errorf("GET /app/x = %d %q", r.Status, r.Body)
		}
		return string(r.Body)
	}
	before := map[string]bool{}
	for i := 0; i < 8; i++ {
		before[pidOf()] = true
	}
	var served, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{}
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(srv.URL + "/app/x")
				if err != nil || resp.StatusCode != 200 {
					failed.Add(1)
				}
				if resp != nil {
					resp.Body.Close()
				}
				served.Add(1)
			}
		}()
	}
	waitFor(t, 30*time.Second, "load to start", func() bool { return served.Load() > 50 })
	out, err := exec.Command(mpgateBin, "reload", "--run-dir", filepath.Join(run, "run")).CombinedOutput()
	if err != nil {
		t.Fatalf("mpgate reload: %v\n%s", err, out)
	}
	n := served.Load()
	waitFor(t, 30*time.Second, "load after the reload", func() bool { return served.Load() > n+50 })
	close(stop)
	wg.Wait()
	if f := failed.Load(); f != 0 {
		t.Fatalf("%d of %d requests failed around mpgate reload", f, served.Load())
	}
	for i := 0; i < 8; i++ {
		if pid := pidOf(); before[pid] {
			t.Fatalf("old worker %q still serving after mpgate reload returned", pid)
		}
	}
}
