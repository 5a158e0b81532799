package dispatch

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpgate/mpgate/config"
	"github.com/mpgate/mpgate/fcgi"
	"github.com/mpgate/mpgate/internal/fcgitest"
	"github.com/mpgate/mpgate/session"
)

// testSite is a daemon on a temporary site: conf is an Apache configuration
// with @DIR@ standing for the site directory, files its content.
type testSite struct {
	dir string
	d   *Server
	fs  *fcgi.Server
}

func newTestSite(t *testing.T, conf string, files map[string]string, opts Options) *testSite {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.ReplaceAll(body, "@DIR@", dir)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Parse("site.conf", []byte(strings.ReplaceAll(conf, "@DIR@", dir)), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	opts.StateDir = filepath.Join(dir, ".state")
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	d, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	s := &testSite{dir: dir, d: d, fs: &fcgi.Server{Handler: d, Logger: opts.Logger}}
	t.Cleanup(func() {
		s.fs.Close()
		d.Close()
		for name, st := range d.Stats() {
			if st[0] != 0 {
				t.Errorf("pool %q still has %d workers after Close", name, st[0])
			}
		}
	})
	return s
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// get sends one request for uri, mapped as Apache maps it for a
// <Directory> SetHandler section: script is the file part, pathInfo the rest.
func (s *testSite) do(t *testing.T, method, uri, script, pathInfo string, body []byte, extra ...fcgi.Param) *fcgitest.Reply {
	t.Helper()
	c1, c2 := net.Pipe()
	go s.fs.ServeConn(c2)
	defer c1.Close()
	c1.SetDeadline(time.Now().Add(60 * time.Second))
	path, _, _ := strings.Cut(uri, "?")
	scriptName := strings.TrimSuffix(path, pathInfo)
	ps := fcgitest.CGIParams(method, uri, filepath.Join(s.dir, script), scriptName, pathInfo, extra...)
	if body != nil {
		ps = append(ps, fcgi.Param{Name: "CONTENT_LENGTH", Value: fmt.Sprint(len(body))})
	}
	rep, err := fcgitest.Do(c1, &fcgitest.Request{Params: ps, Body: body, ChunkSize: 777})
	if err != nil {
		t.Fatalf("%s %s: %v", method, uri, err)
	}
	return rep
}

const helloConf = `
DocumentRoot @DIR@
<Directory @DIR@/app>
    SetHandler mod_python
    PythonHandler hello
</Directory>
<Directory @DIR@/dbg>
    SetHandler mod_python
    PythonHandler hello
    PythonDebug On
</Directory>
<Directory @DIR@/pub>
    AddHandler mod_python .py
    PythonHandler hello
</Directory>
`

const helloPy = `
import os
from mod_python import apache

def handler(req):
    what = req.args or ""
    if what == "raise":
        raise ValueError("boom from handler")
    if what == "forbidden":
        return apache.HTTP_FORBIDDEN
    if what == "declined":
        return apache.DECLINED
    if what == "none":
        return None
    if what == "die":
        os._exit(7)
    if what == "hang":
        import time
        time.sleep(3600)
    if what == "echo":
        req.content_type = "application/octet-stream"
        data = req.read()
        req.write(data)
        return apache.OK
    if what == "call":
        from mpgate import worker
        req.write(repr(sorted(worker.call("test.echo", a="1", b="two").items())))
        try:
            worker.call("test.nosuch")
        except Exception as e:
            req.write(" | %s: %s" % (type(e).__name__, e))
        req.write(" | defined=%s,%s" % (apache.exists_config_define("FOO"), apache.exists_config_define("BAR")))
        return apache.OK
    if what == "badheader":
        req.headers_out["X-Bad"] = "a\r\nInjected: yes"
        req.write("should not be seen")
        return apache.OK
    if what == "pid":
        req.write(str(os.getpid()))
        return apache.OK
    req.content_type = "text/plain"
    req.headers_out.add("X-Multi", "a")
    req.headers_out.add("X-Multi", "b")
    req.write("Hello world\n")
    return apache.OK
`

func helloFiles() map[string]string {
	return map[string]string{
		"app/hello.py": helloPy, "dbg/hello.py": helloPy, "pub/hello.py": helloPy,
		"pub/static.txt": "static text\n",
	}
}

func TestHello(t *testing.T) {
	s := newTestSite(t, helloConf, helloFiles(), Options{})
	rep := s.do(t, "GET", "/app/x", "app/x", "", nil)
	if rep.Status != 200 || string(rep.Body) != "Hello world\n" {
		t.Fatalf("GET /app/x = %d %q, want 200 %q (stderr %q)", rep.Status, rep.Body, "Hello world\n", rep.Stderr)
	}
	if ct := rep.Header.Get("Content-Type"); ct != "text/plain" {
		t.Errorf("Content-Type = %q, want text/plain", ct)
	}
	if got := rep.Header.Values("X-Multi"); strings.Join(got, ",") != "a,b" {
		t.Errorf("X-Multi = %q, want [a b]", got)
	}
}

func TestResults(t *testing.T) {
	s := newTestSite(t, helloConf, helloFiles(), Options{})
	cases := []struct {
		name, uri, script string
		status            int
		body, stderr      string
	}{
		{"raise", "/app/x?raise", "app/x", 500, "The server encountered an internal error", "ValueError: boom from handler"},
		{"raise debug", "/dbg/x?raise", "dbg/x", 500, "ValueError: boom from handler", "ValueError: boom from handler"},
		{"forbidden", "/app/x?forbidden", "app/x", 403, "<p>You don't have permission to access this resource.</p>", ""},
		{"none", "/app/x?none", "app/x", 500, "internal error", "non integer type"},
		{"declined serves file", "/pub/static.txt", "pub/static.txt", 200, "static text\n", ""},
		{"no python handler", "/pub/static.txt?declined", "pub/static.txt", 200, "static text\n", ""},
		{"declined missing", "/app/nothere?declined", "app/nothere", 404, "The requested URL was not found on this server.", ""},
		{"header injection", "/app/x?badheader", "app/x", 500, "internal error", "value contains a line break"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep := s.do(t, "GET", c.uri, c.script, "", nil)
			if rep.Status != c.status || !strings.Contains(string(rep.Body), c.body) {
				t.Fatalf("GET %s = %d %q, want %d containing %q", c.uri, rep.Status, rep.Body, c.status, c.body)
			}
			if c.stderr != "" && !strings.Contains(strings.Join(rep.Stderr, "\n"), c.stderr) {
				t.Errorf("GET %s: stderr %q does not contain %q", c.uri, rep.Stderr, c.stderr)
			}
		})
	}
}

func TestBodyEcho(t *testing.T) {
	s := newTestSite(t, helloConf, helloFiles(), Options{})
	body := bytes.Repeat([]byte("0123456789abcdef"), 20000) // 320 000 bytes
	rep := s.do(t, "POST", "/app/x?echo", "app/x", "", body)
	if rep.Status != 200 || !bytes.Equal(rep.Body, body) {
		t.Fatalf("POST echo = %d, %d bytes, want 200 and the %d bytes sent (stderr %q)", rep.Status, len(rep.Body), len(body), rep.Stderr)
	}
}

func TestBodyLimit(t *testing.T) {
	s := newTestSite(t, helloConf, helloFiles(), Options{MaxBodyBytes: 1000})
	rep := s.do(t, "POST", "/app/x?echo", "app/x", "", bytes.Repeat([]byte("x"), 5000))
	if rep.Status != 413 {
		t.Fatalf("POST of 5000 bytes with a 1000-byte limit = %d, want 413", rep.Status)
	}
	if rep := s.do(t, "GET", "/app/x", "app/x", "", nil); rep.Status != 200 {
		t.Fatalf("request after the refused one = %d, want 200", rep.Status)
	}
}

// TestWorkerDies: a worker that exits mid-request fails only that request
// and is replaced.
// TestIdleWorkerDied: a worker that died while idle is noticed when the
// request cannot be delivered, and the request runs on another worker.
func TestIdleWorkerDied(t *testing.T) {
	s := newTestSite(t, helloConf, helloFiles(), Options{MaxWorkers: 2})
	first := s.do(t, "GET", "/app/x?pid", "app/x", "", nil)
	pid := 0
	fmt.Sscan(string(first.Body), &pid)
	if pid == 0 {
		t.Fatalf("no pid in %q", first.Body)
	}
	proc, _ := os.FindProcess(pid)
	proc.Kill()
	for i := 0; i < 3; i++ {
		if rep := s.do(t, "GET", "/app/x", "app/x", "", nil); rep.Status != 200 {
			t.Fatalf("request %d after the idle worker was killed: %d %q, want 200", i, rep.Status, rep.Body)
		}
	}
}

func TestWorkerDies(t *testing.T) {
	s := newTestSite(t, helloConf, helloFiles(), Options{MaxWorkers: 1})
	rep := s.do(t, "GET", "/app/x?die", "app/x", "", nil)
	if rep.Status != 500 || !strings.Contains(strings.Join(rep.Stderr, "\n"), "died during the request") {
		t.Fatalf("dying worker: %d, stderr %q; want 500 and a line naming the cause", rep.Status, rep.Stderr)
	}
	if rep := s.do(t, "GET", "/app/x", "app/x", "", nil); rep.Status != 200 {
		t.Fatalf("after the worker died: %d %q, want 200", rep.Status, rep.Body)
	}
}

func TestRequestTimeout(t *testing.T) {
	s := newTestSite(t, helloConf, helloFiles(), Options{MaxWorkers: 1, RequestTimeout: 500 * time.Millisecond})
	rep := s.do(t, "GET", "/app/x?hang", "app/x", "", nil)
	if rep.Status != 500 || !strings.Contains(strings.Join(rep.Stderr, "\n"), "timed out") {
		t.Fatalf("hanging handler: %d, stderr %q; want 500 naming the timeout", rep.Status, rep.Stderr)
	}
	if rep := s.do(t, "GET", "/app/x", "app/x", "", nil); rep.Status != 200 {
		t.Fatalf("after the timeout: %d, want 200", rep.Status)
	}
}

// TestInterpretersSeparate: different PythonInterpreter names never share a
// process (mod_python.md §1.8).
func TestInterpretersSeparate(t *testing.T) {
	conf := helloConf + `
<Directory @DIR@/other>
    SetHandler mod_python
    PythonHandler hello
    PythonInterpreter other
</Directory>
`
	files := helloFiles()
	files["other/hello.py"] = helloPy
	s := newTestSite(t, conf, files, Options{MaxWorkers: 1})
	a := s.do(t, "GET", "/app/x?pid", "app/x", "", nil)
	b := s.do(t, "GET", "/other/x?pid", "other/x", "", nil)
	if a.Status != 200 || b.Status != 200 || string(a.Body) == string(b.Body) {
		t.Fatalf("pids %q (%d) and %q (%d): want two different workers", a.Body, a.Status, b.Body, b.Status)
	}
	if st := s.d.Stats(); len(st) != 2 {
		t.Errorf("pools = %v, want 2", st)
	}
}

// TestConcurrentQueue: more concurrent requests than workers wait for one
// and all succeed.
func TestConcurrentQueue(t *testing.T) {
	s := newTestSite(t, helloConf, helloFiles(), Options{MaxWorkers: 2})
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep := s.do(t, "GET", "/app/x", "app/x", "", nil)
			if rep.Status != 200 {
				errs <- fmt.Sprintf("status %d", rep.Status)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	for name, st := range s.d.Stats() {
		if st[0] > 2 {
			t.Errorf("pool %q: %d live workers, want at most 2", name, st[0])
		}
	}
}

// TestCall: a handler's CALL reaches a registered CallFunc in the middle of
// the request and gets its REPLY; an unknown method is an error the handler
// sees; -D defines reach apache.exists_config_define.
func TestCall(t *testing.T) {
	s := newTestSite(t, helloConf, helloFiles(), Options{Defines: []string{"FOO"}})
	s.d.HandleCall("test.echo", func(c *Call) ([]KV, error) {
		return append(c.Args, KV{"method", c.Method}, KV{"uri", c.Request.Param("REQUEST_URI")}), nil
	})
	rep := s.do(t, "GET", "/app/x?call", "app/x", "", nil)
	want := "[('a', '1'), ('b', 'two'), ('method', 'test.echo'), ('uri', '/app/x?call')]" +
		` | CallError: test.nosuch: unknown method "test.nosuch" | defined=True,False`
	if rep.Status != 200 || string(rep.Body) != want {
		t.Fatalf("GET ?call = %d %q, want 200 %q (stderr %q)", rep.Status, rep.Body, want, rep.Stderr)
	}
}

// TestStalledBody: a client that stops sending its body (Apache streams it
// as it arrives through mod_proxy_fcgi) fails its request at the request
// timeout instead of holding the worker.
func TestStalledBody(t *testing.T) {
	s := newTestSite(t, helloConf, helloFiles(), Options{MaxWorkers: 1, RequestTimeout: time.Second})
	c1, c2 := net.Pipe()
	go s.fs.ServeConn(c2)
	defer c1.Close()
	c1.SetDeadline(time.Now().Add(30 * time.Second))
	ps := fcgitest.CGIParams("POST", "/app/x?echo", filepath.Join(s.dir, "app/x"), "/app/x", "",
		fcgi.Param{Name: "CONTENT_LENGTH", Value: "1000"})
	var b []byte
	b = fcgi.AppendBeginRequest(b, 1, fcgi.RoleResponder, false)
	b = fcgi.AppendRecord(b, fcgi.TypeParams, 1, fcgi.AppendParams(nil, ps))
	b = fcgi.AppendRecord(b, fcgi.TypeParams, 1, nil)
	b = fcgi.AppendRecord(b, fcgi.TypeStdin, 1, []byte("only ten b")) // then nothing more
	go c1.Write(b)
	rr := fcgi.NewRecordReader(c1)
	var out, stderr strings.Builder
	for {
		rec, err := rr.Read()
		if err != nil {
			t.Fatalf("reading the reply: %v (got %q, stderr %q)", err, out.String(), stderr.String())
		}
		if rec.Type == fcgi.TypeStdout {
			out.Write(rec.Content)
		}
		if rec.Type == fcgi.TypeStderr {
			stderr.Write(rec.Content)
		}
		if rec.Type == fcgi.TypeEndRequest {
			break
		}
	}
	if !strings.HasPrefix(out.String(), "Status: 500") || !strings.Contains(stderr.String(), "timed out") {
		t.Fatalf("stalled body: reply %q, stderr %q; want a 500 naming the timeout", out.String(), stderr.String())
	}
	if rep := s.do(t, "GET", "/app/x", "app/x", "", nil); rep.Status != 200 {
		t.Fatalf("next request = %d, want 200", rep.Status)
	}
}

// TestUnreadBody: a handler that never reads a large body answers at once;
// the body is drained after it, and the connection serves the next request
// (KEEP_CONN, as mod_proxy_fcgi with enablereuse=on).
func TestUnreadBody(t *testing.T) {
	s := newTestSite(t, helloConf, helloFiles(), Options{})
	c1, c2 := net.Pipe()
	go s.fs.ServeConn(c2)
	defer c1.Close()
	c1.SetDeadline(time.Now().Add(60 * time.Second))
	body := bytes.Repeat([]byte("z"), 5<<20)
	for i := 0; i < 2; i++ {
		ps := fcgitest.CGIParams("POST", "/app/x", filepath.Join(s.dir, "app/x"), "/app/x", "",
			fcgi.Param{Name: "CONTENT_LENGTH", Value: fmt.Sprint(len(body))})
		rep, err := fcgitest.Do(c1, &fcgitest.Request{Params: ps, Body: body, KeepConn: true, ChunkSize: 65535})
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if rep.Status != 200 || string(rep.Body) != "Hello world\n" {
			t.Fatalf("request %d = %d %q, want 200 Hello world", i, rep.Status, rep.Body)
		}
	}
}

// TestErrorDocument: a handler's HTTP error uses the site's ErrorDocument as
// Apache would: a message, a file under DocumentRoot, or a redirect to a full
// URL; "default" and unusable documents fall back to Apache's own.
func TestErrorDocument(t *testing.T) {
	conf := helloConf + `
<Directory @DIR@/app>
    ErrorDocument 403 "Go away, please"
    ErrorDocument 404 /errors/missing.html
    ErrorDocument 500 http://example.com/oops
    ErrorDocument 401 http://example.com/ignored-for-401
</Directory>
`
	files := helloFiles()
	files["errors/missing.html"] = "<p>custom missing page</p>\n"
	files["app/hello.py"] = helloPy + `
def four(req):
    return int(req.args)
`
	conf = strings.Replace(conf, "PythonHandler hello\n</Directory>\n<Directory @DIR@/dbg>", "PythonHandler hello::four\n</Directory>\n<Directory @DIR@/dbg>", 1)
	s := newTestSite(t, conf, files, Options{})
	cases := []struct {
		code     string
		status   int
		body     string
		location string
	}{
		{"403", 403, "Go away, please", ""},
		{"404", 404, "<p>custom missing page</p>\n", ""},
		{"500", 302, `The document has moved <a href="http://example.com/oops">here</a>`, "http://example.com/oops"},
		{"401", 401, "This server could not verify", ""},
		{"410", 410, "no longer available", ""},
	}
	for _, c := range cases {
		rep := s.do(t, "GET", "/app/x?"+c.code, "app/x", "", nil)
		if rep.Status != c.status || !strings.Contains(string(rep.Body), c.body) || rep.Header.Get("Location") != c.location {
			t.Errorf("handler returning %s: %d %q Location %q; want %d containing %q, Location %q",
				c.code, rep.Status, rep.Body, rep.Header.Get("Location"), c.status, c.body, c.location)
		}
	}
}

// TestIdleReap: idle workers beyond MinIdle are stopped after IdleTimeout;
// the default interpreter keeps MinIdle warm, other interpreters none.
func TestIdleReap(t *testing.T) {
	s := newTestSite(t, helloConf, helloFiles(), Options{IdleTimeout: 100 * time.Millisecond, MinIdle: 1})
	p, err := s.d.pool("main_interpreter")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.warm(3); err != nil {
		t.Fatal(err)
	}
	other, _ := s.d.pool("other")
	if err := other.warm(2); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		live, _ := p.stats()
		olive, _ := other.stats()
		if live == 1 && olive == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after reaping: %d workers in the default pool (want 1), %d in another (want 0)", live, olive)
		}
		<-time.After(10 * time.Millisecond)
	}
}

// TestRecycle: under steady concurrent load, Recycle replaces every worker
// (new pids afterwards) and no request fails or waits for a dead worker.
func TestRecycle(t *testing.T) {
	s := newTestSite(t, helloConf, helloFiles(), Options{MaxWorkers: 3, MinIdle: 2})
	if err := s.d.Warm(); err != nil {
		t.Fatal(err)
	}
	before := map[string]bool{}
	for i := 0; i < 6; i++ {
		before[string(s.do(t, "GET", "/app/x?pid", "app/x", "", nil).Body)] = true
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var served, failed atomic.Int64
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				rep := s.do(t, "GET", "/app/x?pid", "app/x", "", nil)
				if rep.Status != 200 {
					failed.Add(1)
					t.Errorf("during recycle: status %d, stderr %q", rep.Status, rep.Stderr)
				}
				served.Add(1)
			}
		}()
	}
	// Let the load reach the workers before recycling them.
	for served.Load() < 20 {
		runtime.Gosched()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.d.Recycle(ctx); err != nil {
		t.Fatalf("Recycle: %v", err)
	}
	after := served.Load()
	for served.Load() < after+20 {
		runtime.Gosched()
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed during the recycle", failed.Load(), served.Load())
	}
	for i := 0; i < 6; i++ {
		pid := string(s.do(t, "GET", "/app/x?pid", "app/x", "", nil).Body)
		if before[pid] {
			t.Fatalf("worker %s served after Recycle returned; want only new workers", pid)
		}
	}
	if st := s.d.Stats()["main_interpreter"]; st[0] > 3 {
		t.Errorf("after recycle: %d live workers, want at most MaxWorkers=3", st[0])
	}
}

const reloadConf = `
DocumentRoot @DIR@
<Directory @DIR@/app>
    SetHandler mod_python
    PythonHandler page
</Directory>
`

var reloadFiles = map[string]string{
	"app/page.py": "import dep\nfrom mod_python import apache\n\ndef handler(req):\n    req.write(dep.VALUE)\n    return apache.OK\n",
	"app/dep.py":  "VALUE = 'one'\n",
}

// TestModuleReload: a changed dependency reaches the next requests of every
// worker, and Modules lists what the workers loaded.
func TestModuleReload(t *testing.T) {
	s := newTestSite(t, reloadConf, reloadFiles, Options{MaxWorkers: 2})
	get := func() string { return string(s.do(t, "GET", "/app/x", "app/x", "", nil).Body) }
	// Two workers load the modules.
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if b := get(); b != "one" {
				t.Errorf("before the edit: %q", b)
			}
		}()
	}
	wg.Wait()
	dep := filepath.Join(s.dir, "app", "dep.py")
	listed := false
	for _, om := range s.d.Modules() {
		for _, m := range om.Modules {
			if m.File == filepath.Join(s.dir, "app", "page.py") && len(m.Deps) == 1 && m.Deps[0] == dep {
				listed = true
			}
		}
	}
	if !listed {
		t.Fatalf("Modules() = %+v; want page.py importing dep.py", s.d.Modules())
	}

	tmp := dep + ".new"
	os.WriteFile(tmp, []byte("VALUE = 'two'\n"), 0o644)
	if err := os.Rename(tmp, dep); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for get() != "two" {
		if time.Now().After(deadline) {
			t.Fatal("the edit of dep.py never showed")
		}
		runtime.Gosched()
	}
	// Once seen, every worker answers with the new code.
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if b := get(); b != "two" {
				t.Errorf("after the edit was seen: %q", b)
			}
		}()
	}
	wg.Wait()
}

// TestModuleReloadOff: with Watch "off" loaded code stays, as in Debian's
// mod_python 3.5, and Modules still lists it.
func TestModuleReloadOff(t *testing.T) {
	s := newTestSite(t, reloadConf, reloadFiles, Options{MaxWorkers: 1, Watch: "off"})
	if b := string(s.do(t, "GET", "/app/x", "app/x", "", nil).Body); b != "one" {
		t.Fatalf("got %q", b)
	}
	mods := s.d.Modules()
	if s.d.WatchMode() != "off" || len(mods) != 1 || len(mods[0].Modules) != 2 {
		t.Fatalf("WatchMode %q, Modules %+v; want off, one worker with page.py and dep.py", s.d.WatchMode(), mods)
	}
	os.WriteFile(filepath.Join(s.dir, "app", "dep.py"), []byte("VALUE = 'changed'\n"), 0o644)
	if inv, ok := s.d.modules.Take(mods[0].Owner); ok {
		t.Fatalf("invalidation pending with Watch off: %+v", inv)
	}
	if b := string(s.do(t, "GET", "/app/x", "app/x", "", nil).Body); b != "one" {
		t.Fatalf("with Watch off the edit showed: %q", b)
	}
}

const sessionConf = `
DocumentRoot @DIR@
<Directory @DIR@/app>
    SetHandler mod_python
    PythonHandler sess
</Directory>
`

const sessPy = `
import os
from mpgate import worker
from mod_python import apache

SID = "0123456789abcdef0123456789abcdef"
BLOB = bytes(range(256))

def handler(req):
    what = req.args or ""
    if what.startswith("lock"):
        worker.call("session.lock", id=SID)
        worker.call("session.lock", id=SID)  # re-entrant within the request
        if what == "lockdie":
            os._exit(9)
        req.write("locked")
    elif what == "save":
        worker.call("session.save", id=SID, data=BLOB.decode("utf-8", "surrogateescape"),
                    created="1700000000.5", accessed="%f" % __import__("time").time(), timeout="60")
        req.write("saved")
    elif what == "load":
        r = worker.call("session.load", id=SID)
        req.write("%s %s %s" % (r["found"], r.get("data", "").encode("utf-8", "surrogateescape") == BLOB, r.get("created")))
    elif what == "mutex":
        # mod_python's global mutexes: re-entrant within the request, left
        # held at its end (released then).
        import _apache
        _apache._global_lock(req.server, "k")
        again = _apache._global_trylock(req.server, "k")
        _apache._global_lock(req.server, None, 3)
        _apache._global_unlock(req.server, None, 3)
        req.write("mutex %s" % again)
    elif what == "bad":
        try:
            worker.call("session.load", id="../etc/passwd")
        except Exception as e:
            req.write("%s: %s" % (type(e).__name__, e))
    return apache.OK
`

// TestSessionCalls: the session.* CALL methods reach the store; bytes
// survive; a request's locks are released when it ends, also when its
// worker dies holding one.
func TestSessionCalls(t *testing.T) {
	dir := t.TempDir()
	st, err := session.Open(session.Options{Path: filepath.Join(dir, "sessions.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := newTestSite(t, sessionConf, map[string]string{"app/sess.py": sessPy},
		Options{MaxWorkers: 2, Sessions: st, SessionLockWait: time.Hour})
	get := func(q string) string {
		rep := s.do(t, "GET", "/app/x?"+q, "app/x", "", nil)
		if rep.Status != 200 {
			t.Logf("GET ?%s: stderr %s", q, rep.Stderr)
		}
		return fmt.Sprintf("%d %s", rep.Status, rep.Body)
	}
	if got := get("load"); got != "200 0 False None" {
		t.Fatalf("load before save: %q", got)
	}
	if got := get("save"); got != "200 saved" {
		t.Fatalf("save: %q", got)
	}
	if got := get("load"); got != "200 1 True 1700000000.5" {
		t.Fatalf("load after save: %q", got)
	}
	// Each request takes the lock and ends without unlocking: with an
	// hour's lock wait, the next ones only get it because the end of the
	// request released it.
	for i := 0; i < 3; i++ {
		if got := get("lock"); got != "200 locked" {
			t.Fatalf("lock %d: %q", i, got)
		}
	}
	if got := get("lockdie"); !strings.HasPrefix(got, "500 ") {
		t.Fatalf("lockdie: %q, want 500", got)
	}
	if got := get("lock"); got != "200 locked" {
		t.Fatalf("lock after a worker died holding it: %q", got)
	}
	if held, waiting := st.Locks(); held != 0 || waiting != 0 {
		t.Fatalf("after the requests: %d locks held, %d waiting", held, waiting)
	}
	// The global mutex one request left held is free for the next: with an
	// hour's lock wait, they only get it because the end of a request
	// released it.
	for i := 0; i < 3; i++ {
		if got := get("mutex"); got != "200 mutex True" {
			t.Fatalf("mutex %d: %q", i, got)
		}
	}
	if held, waiting := st.Locks(); held != 0 || waiting != 0 {
		t.Fatalf("after the mutex requests: %d locks held, %d waiting", held, waiting)
	}
	if got := get("bad"); !strings.Contains(got, "CallError") || !strings.Contains(got, "malformed session id") {
		t.Fatalf("bad id: %q", got)
	}
}

const redirectConf = `
DocumentRoot @DIR@
<Directory @DIR@/app>
    SetHandler mod_python
    PythonHandler redir
</Directory>
<Directory @DIR@/other>
    SetHandler mod_python
    PythonHandler redir
    PythonInterpreter elsewhere
</Directory>
`

const redirPy = `
from mod_python import apache, Session

def handler(req):
    if req.prev is None:
        if req.args == "static":
            req.internal_redirect("/files/page.txt")
            return apache.OK
        if req.args == "missing":
            req.internal_redirect("/files/nothere.txt")
            return apache.OK
        if req.args == "other":
            req.internal_redirect("/other/x")
            return apache.OK
        s = req.get_session()
        s["n"] = s.get("n", 0) + 1          # not saved before the redirect
        req.err_headers_out["X-Kept"] = "err"
        req.headers_out["X-Dropped"] = "out"
        req.internal_redirect("/app/target/more?a=1")
        req.write("never seen")  # after the redirect: the first request's output is dropped
        return apache.OK
    s = Session.Session(req)                # the first request's session, no deadlock
    s.save()
    req.content_type = "text/plain"
    req.write("uri=%s path_info=%s args=%s prev=%s n=%d same=%s" % (
        req.uri, req.path_info, req.args, req.prev.uri, s["n"], s is req.prev.get_session()))
    return apache.OK
`

// TestInternalRedirect: req.internal_redirect runs the new URI's handler in
// the same worker with the first request as req.prev; the session goes
// along (unsaved changes included, no deadlock on its lock); a static target
// is served by the daemon, a missing one is a 404, one in another
// interpreter an error.
func TestInternalRedirect(t *testing.T) {
	dir := t.TempDir()
	st, err := session.Open(session.Options{Path: filepath.Join(dir, "sessions.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	files := map[string]string{"app/redir.py": redirPy, "other/redir.py": redirPy, "files/page.txt": "static page\n"}
	s := newTestSite(t, redirectConf, files, Options{MaxWorkers: 2, Sessions: st, SessionLockWait: 5 * time.Second})
	rep := s.do(t, "GET", "/app/x", "app/x", "", nil)
	want := "uri=/app/target/more path_info=/more args=a=1 prev=/app/x n=1 same=True"
	if rep.Status != 200 || string(rep.Body) != want {
		t.Fatalf("redirect: %d %q (stderr %q), want 200 %q", rep.Status, rep.Body, rep.Stderr, want)
	}
	if rep.Header.Get("X-Kept") != "err" || rep.Header.Get("X-Dropped") != "" || !strings.HasPrefix(rep.Header.Get("Set-Cookie"), "pysid=") {
		t.Errorf("headers %v: want err_headers_out (X-Kept, the session cookie) kept, headers_out (X-Dropped) not", rep.Header)
	}
	if held, waiting := st.Locks(); held != 0 || waiting != 0 {
		t.Errorf("%d session locks held, %d waiting after the request", held, waiting)
	}
	rep = s.do(t, "GET", "/app/x?static", "app/x", "", nil)
	if rep.Status != 200 || string(rep.Body) != "static page\n" || rep.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("redirect to a static file: %d %q %v", rep.Status, rep.Body, rep.Header)
	}
	if rep = s.do(t, "GET", "/app/x?missing", "app/x", "", nil); rep.Status != 404 {
		t.Fatalf("redirect to a missing file: %d %q", rep.Status, rep.Body)
	}
	if rep = s.do(t, "GET", "/app/x?other", "app/x", "", nil); rep.Status != 500 || !strings.Contains(strings.Join(rep.Stderr, "\n"), "interpreter") {
		t.Fatalf("redirect into another interpreter: %d, stderr %q", rep.Status, rep.Stderr)
	}
}
