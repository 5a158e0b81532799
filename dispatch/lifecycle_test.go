package dispatch

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// logRecorder is a daemon log for tests: every line goes to t.Log and is
// kept, so that a test can wait for what a worker logged outside requests.
type logRecorder struct {
	t   *testing.T
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func newLogRecorder(t *testing.T) (*logRecorder, *slog.Logger) {
	r := &logRecorder{t: t}
	return r, slog.New(slog.NewTextHandler(r, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (r *logRecorder) Write(p []byte) (int, error) {
	r.t.Log(strings.TrimRight(string(p), "\n"))
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Write(p)
}

func (r *logRecorder) count(substr string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Count(r.buf.Bytes(), []byte(substr))
}

// wait waits until substr was logged n times, failing after a bound.
func (r *logRecorder) wait(substr string, n int) {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for r.count(substr) < n {
		if time.Now().After(deadline) {
			r.t.Fatalf("daemon log has %q %d times after 30s, want %d", substr, r.count(substr), n)
		}
		<-tick.C
	}
}

const lifecycleConf = `
DocumentRoot @DIR@
PythonPath "['@DIR@/lib'] + sys.path"
PythonImport startup main_interpreter
PythonImport startup::init main_interpreter
PythonImport missing_startup_module main_interpreter
PythonImport startup::init imports_only
Define FROM_CONF
Define GONE
UnDefine GONE
<Directory @DIR@/app>
    SetHandler mod_python
    PythonHandler page
</Directory>
<Directory @DIR@/reaped>
    SetHandler mod_python
    PythonInterpreter reaped
    PythonHandler page
</Directory>
<Directory @DIR@/closed>
    SetHandler mod_python
    PythonInterpreter closed
    PythonHandler page
</Directory>
`

var lifecycleFiles = map[string]string{
	"lib/startup.py": `
import os
from mod_python import apache

PID = os.getpid()
CALLS = []
apache.log_error("startup imported in %s" % apache.interpreter)

def init():
    CALLS.append(apache.interpreter)
    apache.main_server.get_options()["startup"] = "ran"
    apache.log_error("startup::init ran in %s" % apache.interpreter)
`,
	"lib/page.py": `
import os
import time
from mod_python import apache

def _log_cleanup(data):
    apache.log_error("cleanup ran: %s" % data)

def _failing_cleanup(data):
    raise ValueError("cleanup fails: %s" % data)

def _hanging_cleanup(data):
    apache.log_error("cleanup hangs: %s" % data)
    time.sleep(3600)

def handler(req):
    what = req.args or ""
    if what == "imports":
        import startup
        req.write("%s %s %s" % (startup.PID == os.getpid(), startup.CALLS,
                                apache.main_server.get_options().get("startup")))
    elif what == "defines":
        req.write(" ".join("%s=%s" % (n, apache.exists_config_define(n))
                           for n in ("FROM_CONF", "FROM_OPTIONS", "GONE", "MPGATE")))
    elif what == "register":
        apache.register_cleanup(_log_cleanup, "%s first" % req.interpreter)
        apache.register_cleanup(_failing_cleanup, req.interpreter)
        req.server.register_cleanup(req, _log_cleanup, "%s last" % req.interpreter)
        req.write("registered")
    elif what == "hang":
        apache.register_cleanup(_hanging_cleanup, req.interpreter)
        req.write("registered")
    elif what == "pid":
        req.write(str(os.getpid()))
    return apache.OK
`,
}

// TestPythonImport: the PythonImports of an interpreter run in each of its
// workers before the first request, in reverse file order, with the main
// server's PythonPath; a failing one is logged and the worker serves; an
// interpreter named only by a PythonImport starts with the daemon (Warm), as
// mod_python runs the imports in every child; replaced workers run them
// again; defines are the configuration's and Options.Defines, not MPGATE.
func TestPythonImport(t *testing.T) {
	rec, log := newLogRecorder(t)
	s := newTestSite(t, lifecycleConf, lifecycleFiles, Options{Logger: log, Defines: []string{"FROM_OPTIONS"}})
	if err := s.d.Warm(); err != nil {
		t.Fatalf("Warm: %v", err)
	}
	for _, interp := range []string{"main_interpreter", "imports_only"} {
		if st := s.d.Stats()[interp]; st[0] != 1 {
			t.Errorf("after Warm, interpreter %q has %d workers, want 1", interp, st[0])
		}
	}
	rec.wait("startup::init ran in imports_only", 1)
	rec.wait("directive_PythonImport: error importing missing_startup_module", 1)
	rec.wait("ModuleNotFoundError: No module named 'missing_startup_module'", 1)

	get := func(q string) string {
		t.Helper()
		rep := s.do(t, "GET", "/app/x?"+q, "app/x", "", nil)
		if rep.Status != 200 {
			t.Fatalf("GET ?%s = %d %q (stderr %q)", q, rep.Status, rep.Body, rep.Stderr)
		}
		return string(rep.Body)
	}
	if got, want := get("imports"), "True ['main_interpreter'] ran"; got != want {
		t.Errorf("GET ?imports = %q, want %q", got, want)
	}
	if got, want := get("defines"), "FROM_CONF=True FROM_OPTIONS=True GONE=False MPGATE=False"; got != want {
		t.Errorf("GET ?defines = %q, want %q", got, want)
	}
	if n := rec.count("startup imported in main_interpreter"); n != 1 {
		t.Errorf("startup imported %d times in main_interpreter, want once", n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.d.Recycle(ctx); err != nil {
		t.Fatalf("Recycle: %v", err)
	}
	rec.wait("startup::init ran in main_interpreter", 2)
	if got, want := get("imports"), "True ['main_interpreter'] ran"; got != want {
		t.Errorf("after Recycle, GET ?imports = %q, want %q", got, want)
	}
}

// TestCleanupsWhenWorkersStop: apache.register_cleanup and
// server.register_cleanup callables run, last registered first, whenever a
// worker stops (reaped when idle, replaced by Recycle, stopped by Close);
// what they log reaches the daemon's log, a failing one as python_cleanup
// reports it.
func TestCleanupsWhenWorkersStop(t *testing.T) {
	rec, log := newLogRecorder(t)
	s := newTestSite(t, lifecycleConf, lifecycleFiles, Options{Logger: log, IdleTimeout: 200 * time.Millisecond})
	register := func(dir string) {
		t.Helper()
		rep := s.do(t, "GET", "/"+dir+"/x?register", dir+"/x", "", nil)
		if rep.Status != 200 || string(rep.Body) != "registered" {
			t.Fatalf("GET /%s/x?register = %d %q (stderr %q)", dir, rep.Status, rep.Body, rep.Stderr)
		}
	}
	wantOrder := func(interp string) {
		t.Helper()
		rec.mu.Lock()
		text := rec.buf.String()
		rec.mu.Unlock()
		// Each line after the one before it.
		for _, l := range []string{"cleanup ran: " + interp + " last", "python_cleanup: Error calling cleanup object <function _failing_cleanup",
			"<class 'ValueError'>: cleanup fails: " + interp, "cleanup ran: " + interp + " first"} {
			i := strings.Index(text, l)
			if i < 0 {
				t.Fatalf("cleanups of %s: no %q after the cleanup before it", interp, l)
			}
			text = text[i+len(l):]
		}
	}

	// Reaped: no request for IdleTimeout, and the interpreter keeps no idle worker.
	register("reaped")
	rec.wait("cleanup ran: reaped first", 1)
	wantOrder("reaped")

	// Replaced by Recycle.
	register("app")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.d.Recycle(ctx); err != nil {
		t.Fatalf("Recycle: %v", err)
	}
	rec.wait("cleanup ran: main_interpreter first", 1)
	wantOrder("main_interpreter")

	// Stopped with the daemon.
	register("closed")
	s.fs.Close()
	s.d.Close()
	if n := rec.count("cleanup ran: closed first"); n != 1 {
		t.Fatalf("after Close, the cleanups of the closed interpreter ran %d times, want once", n)
	}
	wantOrder("closed")
}

// TestHangingCleanup: a cleanup that never returns does not hold up the
// daemon's stop: the worker is killed StopGrace after SHUTDOWN.
func TestHangingCleanup(t *testing.T) {
	rec, log := newLogRecorder(t)
	s := newTestSite(t, lifecycleConf, lifecycleFiles, Options{Logger: log, StopGrace: 300 * time.Millisecond})
	rep := s.do(t, "GET", "/closed/x?hang", "closed/x", "", nil)
	if rep.Status != 200 {
		t.Fatalf("GET ?hang = %d %q", rep.Status, rep.Body)
	}
	done := make(chan struct{})
	go func() {
		s.fs.Close()
		s.d.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not return 30s after a cleanup hung (StopGrace 300ms)")
	}
	if rec.count("cleanup hangs: closed") != 1 || rec.count("worker did not stop in time; killing it") != 1 {
		t.Errorf("want the hanging cleanup's line and the kill logged once each")
	}
}

// TestServerFactsOnTheWire: the server object shows the configuration's
// LogLevel, Timeout, KeepAlive values, ServerPath and ErrorLog, server.next
// follows Apache's list, and conn.base_server is the first host of the
// address.
func TestServerFactsOnTheWire(t *testing.T) {
	conf := `
LogLevel notice
Timeout 42
<VirtualHost *:8080>
    ServerName first
    DocumentRoot @DIR@
    KeepAliveTimeout 7
    ServerPath /first
    ErrorLog /var/log/first.log
</VirtualHost>
<VirtualHost *:8080>
    ServerName second
    ServerAlias 127.0.0.1
    DocumentRoot @DIR@
    LogLevel debug
    <Directory @DIR@/app>
        SetHandler mod_python
        PythonHandler facts
        LogLevel error
    </Directory>
</VirtualHost>
`
	files := map[string]string{"app/facts.py": `
from mod_python import apache

def show(s):
    return "%s loglevel=%d timeout=%r keep_alive_timeout=%r path=%r error_fname=%r" % (
        s.server_hostname, s.loglevel, s.timeout, s.keep_alive_timeout, s.path, s.error_fname)

def handler(req):
    chain = []
    s = apache.main_server
    while s is not None:
        chain.append(s.server_hostname)
        s = s.next
    req.write("\n".join([show(req.server), show(req.connection.base_server), " > ".join(chain)]))
    return apache.OK
`}
	s := newTestSite(t, conf, files, Options{})
	rep := s.do(t, "GET", "/app/x", "app/x", "", nil)
	// The main server has no ServerName here: "" heads the chain.
	want := "second loglevel=7 timeout=42.0 keep_alive_timeout=5.0 path=None error_fname=None\n" +
		"first loglevel=5 timeout=42.0 keep_alive_timeout=7.0 path='/first' error_fname='/var/log/first.log'\n" +
		" > second > first"
	if string(rep.Body) != want {
		t.Errorf("GET /app/x:\n%s\nwant\n%s\n(stderr %q)", rep.Body, want, rep.Stderr)
	}
}
