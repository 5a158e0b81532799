// This file proves the harness against the real Apache, mod_python and mod_fcgid installed here.

package apachetest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/fcgi"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fcgiAppEnv makes the test binary a mod_fcgid program (see TestMain).
const fcgiAppEnv = "APACHETEST_FCGI_APP"

// TestMain runs the tests, or, with fcgiAppEnv=1 in the environment, serves FastCGI on the
// listening socket mod_fcgid passes as fd 0, answering every request with the process id.
func TestMain(m *testing.M) {
	if os.Getenv(fcgiAppEnv) != "1" {
		m.Run()
		return
	}
	err := fcgi.Serve(nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "fcgi pid %d\n", os.Getpid())
	}))
	fmt.Fprintf(os.Stderr, "fcgi app: %v\n", err)
}

func TestStartServesStaticFiles(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Files: map[string]string{
		"hello.txt":      "hello from apache\n",
		"sub/places.txt": "port @PORT@ docroot @DOCROOT@ run @RUN@\n",
	}})

	r := s.Get(t, "/hello.txt")
	if r.Status != 200 || string(r.Body) != "hello from apache\n" {
		t.Errorf("GET /hello.txt = %d %q, want 200 %q", r.Status, r.Body, "hello from apache\n")
	}
	if got, want := r.Header.Get("Content-Type"), "text/plain"; got != want {
		t.Errorf("GET /hello.txt: Content-Type = %q, want %q", got, want)
	}
	if got, want := r.Header.Get("Last-Modified"), "Sat, 03 Feb 2001 04:05:06 GMT"; got != want {
		t.Errorf("GET /hello.txt: Last-Modified = %q, want %q", got, want)
	}
	if r.Proto != "HTTP/1.1" {
		t.Errorf("GET /hello.txt: Proto = %q, want HTTP/1.1", r.Proto)
	}

	want := fmt.Sprintf("port %d docroot %s run %s/run\n", s.Port, s.DocRoot, s.Root)
	if r := s.Get(t, "/sub/places.txt"); string(r.Body) != want {
		t.Errorf("GET /sub/places.txt = %q, want %q", r.Body, want)
	}
	if r := s.Get(t, "/missing.txt"); r.Status != 404 {
		t.Errorf("GET /missing.txt = %d, want 404", r.Status)
	}
	s.WaitLog(t, "AH00489", 10*time.Second) // "Apache/2.4... configured -- resuming normal operations"
}

// modPythonSite is a mod_python handler directory: hello answers with a fixed text and logs a
// line with req.log_error, where reports where it runs (paths and port differ per server).
var (
	modPythonConf = `
<Directory @DOCROOT@/mp>
    SetHandler mod_python
    PythonHandler hello
</Directory>
<Directory @DOCROOT@/where>
    SetHandler mod_python
    PythonHandler where
</Directory>
`
	modPythonFiles = map[string]string{
		"mp/hello.py": `from mod_python import apache

def handler(req):
    req.log_error('apachetest hello handler ran for %s' % req.uri)
    req.content_type = 'text/plain'
    req.write('hi from mod_python')
    return apache.OK
`,
		"where/where.py": `from mod_python import apache

def handler(req):
    req.content_type = 'text/plain'
    req.headers_out['X-Filename'] = req.filename
    req.write('docroot=%s port=%d\n' % (req.document_root(), req.connection.local_addr[1]))
    return apache.OK
`,
	}
)

func TestModPython(t *testing.T) {
	t.Parallel()
	mp := ModPython(t, modPythonConf, modPythonFiles)

	r := mp.Get(t, "/mp/hello")
	if r.Status != 200 || string(r.Body) != "hi from mod_python" {
		t.Errorf("GET /mp/hello = %d %q, want 200 %q", r.Status, r.Body, "hi from mod_python")
	}
	if got := r.Header.Get("Content-Type"); got != "text/plain" {
		t.Errorf("GET /mp/hello: Content-Type = %q, want text/plain", got)
	}
	if got := r.Header.Get("Server"); !strings.Contains(got, "mod_python") {
		t.Logf("GET /mp/hello: Server = %q (no mod_python token)", got)
	}
	mp.WaitLog(t, "apachetest hello handler ran for /mp/hello", 10*time.Second)

	t.Run("CompareWithItself", func(t *testing.T) {
		for _, req := range []*http.Request{
			newRequest(t, "GET", "/mp/hello", ""),
			newRequest(t, "POST", "/mp/hello?x=1", "a=b"),
			newRequest(t, "GET", "/where/", ""),
			newRequest(t, "GET", "/missing", ""),
		} {
			Compare(t, mp, mp, req)
		}
	})

	t.Run("CompareNormalizesRootAndPort", func(t *testing.T) {
		other := ModPython(t, modPythonConf, modPythonFiles)
		a, b := mp.Get(t, "/where/"), other.Get(t, "/where/")
		if string(a.Body) == string(b.Body) {
			t.Fatalf("GET /where/ gave %q on both servers; want bodies naming each server's paths and port", a.Body)
		}
		Compare(t, mp, other, newRequest(t, "GET", "/where/", ""))
		Compare(t, mp, other, newRequest(t, "GET", "/where", "")) // mod_dir's 301 names the port
	})

	t.Run("CompareReportsDifferences", func(t *testing.T) {
		static := Start(t, Options{Files: map[string]string{"mp/hello": "hi from a file\n"}})
		rec := &recorder{TB: t}
		Compare(rec, mp, static, newRequest(t, "GET", "/mp/hello", ""))
		got := strings.Join(rec.errors(), "\n")
		for _, want := range []string{"header Content-Type: missing", "header Last-Modified: got", "body: differs at byte 8"} {
			if !strings.Contains(got, want) {
				t.Errorf("Compare(mod_python, static file) errors = %q, want one containing %q", got, want)
			}
		}
		if strings.Contains(got, "Date") || strings.Contains(got, "Etag") {
			t.Errorf("Compare(mod_python, static file) errors = %q, want no ignored header", got)
		}
	})
}

func TestParallelStarts(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	ports := make(map[int]string)
	t.Run("group", func(t *testing.T) {
		for i := range 3 {
			t.Run(strconv.Itoa(i), func(t *testing.T) {
				t.Parallel()
				want := fmt.Sprintf("server %d\n", i)
				s := Start(t, Options{Files: map[string]string{"i.txt": want}})
				if r := s.Get(t, "/i.txt"); string(r.Body) != want {
					t.Errorf("GET /i.txt = %q, want %q", r.Body, want)
				}
				mu.Lock()
				defer mu.Unlock()
				if other, ok := ports[s.Port]; ok {
					t.Errorf("server %d got port %d, as did %s", i, s.Port, other)
				}
				ports[s.Port] = t.Name()
			})
		}
	})
}

func TestStopLeavesNoProcess(t *testing.T) {
	t.Parallel()
	bin := TempDir(t)
	copyExecutable(t, bin+"/app")
	s := Start(t, Options{
		Modules: []string{"fcgid"},
		Config: `
FcgidInitialEnv ` + fcgiAppEnv + ` 1
<Location /fcgi>
    Options +ExecCGI
    SetHandler fcgid-script
    FcgidWrapper ` + bin + `/app virtual
</Location>
`,
	})
	r := s.Get(t, "/fcgi/x")
	var appPID int
	if _, err := fmt.Sscanf(string(r.Body), "fcgi pid %d", &appPID); r.Status != 200 || err != nil {
		t.Fatalf("GET /fcgi/x = %d %q, want 200 \"fcgi pid N\"", r.Status, r.Body)
	}

	s.Stop()
	for _, p := range []struct {
		name string
		pid  int
	}{{"Apache", s.PID}, {"mod_fcgid program", appPID}} {
		if err := syscall.Kill(p.pid, 0); !errors.Is(err, syscall.ESRCH) && !isZombie(p.pid) {
			t.Errorf("after Stop, %s pid %d: kill(0) = %v, want ESRCH", p.name, p.pid, err)
		}
	}
	if left := groupProcesses(s.PID); len(left) > 0 {
		t.Errorf("after Stop, process group %d has %v, want none", s.PID, left)
	}
	s.Stop() // idempotent
}

func TestStopIsGraceful(t *testing.T) {
	t.Parallel()
	s := ModPython(t, `
<Directory @DOCROOT@/slow>
    SetHandler mod_python
    PythonHandler slow
</Directory>
`, map[string]string{"slow/slow.py": `import os, time
from mod_python import apache

def handler(req):
    req.log_error('apachetest slow handler waiting')
    release = os.path.join(os.path.dirname(req.filename), 'release')
    while not os.path.exists(release):
        time.sleep(0.01)
    req.content_type = 'text/plain'
    req.write('done')
    return apache.OK
`})
	type result struct {
		status int
		body   string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := client.Get(s.URL + "/slow/")
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		done <- result{resp.StatusCode, string(b), err}
	}()
	s.WaitLog(t, "apachetest slow handler waiting", 10*time.Second)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		s.Stop()
	}()
	s.WaitLog(t, "caught SIGWINCH, shutting down gracefully", 10*time.Second)
	if err := os.WriteFile(s.DocRoot+"/slow/release", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.err != nil || r.status != 200 || r.body != "done" {
		t.Errorf("GET /slow/ during Stop = %d %q, %v; want 200 \"done\"", r.status, r.body, r.err)
	}
	<-stopped
	if left := groupProcesses(s.PID); len(left) > 0 {
		t.Errorf("after Stop, process group %d has %v, want none", s.PID, left)
	}
}

func TestStartRetriesTakenPort(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	picks := 0
	pick := func(t testing.TB) int {
		picks++
		if picks == 1 {
			return taken
		}
		return FreePort(t)
	}
	s := start(t, Options{Files: map[string]string{"a.txt": "a"}}, pick)
	if s.Port == taken || picks != 2 {
		t.Errorf("start with port %d taken: Port = %d after %d picks, want another port after 2", taken, s.Port, picks)
	}
	if r := s.Get(t, "/a.txt"); string(r.Body) != "a" {
		t.Errorf("GET /a.txt = %q, want \"a\"", r.Body)
	}
}

func TestStartReportsConfigError(t *testing.T) {
	t.Parallel()
	rec := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		start(rec, Options{Config: "ThisIsNotADirective on\n"}, FreePort)
	}()
	<-done
	got := strings.Join(rec.errors(), "\n")
	for _, want := range []string{"Invalid command 'ThisIsNotADirective'", "> ", "ThisIsNotADirective on"} {
		if !strings.Contains(got, want) {
			t.Errorf("Start with a bad Config: failure = %q, want it to contain %q", got, want)
		}
	}
}

func TestStartReportsMissingModule(t *testing.T) {
	t.Parallel()
	rec := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Start(rec, Options{Modules: []string{"no_such_thing"}})
	}()
	<-done
	if got, want := strings.Join(rec.errors(), "\n"), "missing /usr/lib/apache2/modules/mod_no_such_thing.so"; !strings.Contains(got, want) {
		t.Errorf("Start with module no_such_thing: failure = %q, want it to contain %q", got, want)
	}
}

func TestFailurePrintsLogs(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	daemonLog := TempDir(t) + "/daemon.log"
	if err := os.WriteFile(daemonLog, []byte("daemon line 1\ndaemon line 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("failing", func(t *testing.T) {
		rec.TB = t
		s := Start(rec, Options{})
		s.AddLog(daemonLog)
		s.Get(rec, "/nothing-here")
		rec.Errorf("the test fails")
	})
	// The subtest's cleanups have run: Stop, then the printing of the logs' tails.
	logs := strings.Join(rec.logs, "\n")
	for _, want := range []string{"error.log", "AH00128: File does not exist", "access.log", `"GET /nothing-here HTTP/1.1" 404`, "daemon line 2"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs printed for a failed test = %q, want them to contain %q", logs, want)
		}
	}
}

func TestReplacePort(t *testing.T) {
	s := &Server{Port: 4321}
	for _, tc := range []struct{ in, want string }{
		{"4321", "@PORT@"},
		{"http://127.0.0.1:4321/x", "http://127.0.0.1:@PORT@/x"},
		{"4321,4321,4321", "@PORT@,@PORT@,@PORT@"},
		{"143210 43210 4321x", "143210 43210 @PORT@x"},
		{"", ""},
	} {
		if got := string(replacePort([]byte(tc.in), s)); got != tc.want {
			t.Errorf("replacePort(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestModulesFor(t *testing.T) {
	for _, tc := range []struct {
		name, conf string
		want       []string
	}{
		{"handler", "<Directory /x>\n SetHandler mod_python\n PythonHandler h\n</Directory>\n", nil},
		{"authen", "AuthType Basic\nAuthName x\nRequire valid-user\nPythonAuthenHandler a\n", []string{"authn_core", "authz_user"}},
		{"rewrite", "  RewriteEngine On\n  RewriteRule ^a$ b\n", []string{"rewrite"}},
		{"require not", "Require not group x\nRequire all granted\n", []string{"authz_groupfile"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := modulesFor(tc.conf); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("modulesFor(%q) = %q, want %q", tc.conf, got, tc.want)
			}
		})
	}
}

func TestModuleListRejectsFileNames(t *testing.T) {
	for _, m := range []string{"mod_proxy", "proxy_module", "mod_proxy.so", "Proxy", ""} {
		if _, err := moduleList([]string{m}); err == nil {
			t.Errorf("moduleList([%q]) = nil error, want one", m)
		}
	}
	got, err := moduleList([]string{"proxy_fcgi", "headers"})
	if err != nil {
		t.Fatal(err)
	}
	if want := append(append([]string(nil), baseModules...), "proxy", "proxy_fcgi"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("moduleList(proxy_fcgi, headers) = %q, want %q", got, want)
	}
}

// recorder is a testing.TB that collects Errorf, Fatalf and Logf messages instead of failing or
// logging; Fatalf ends the goroutine as testing.T's does, and Failed reports whether Errorf ran.
type recorder struct {
	testing.TB
	mu   sync.Mutex // guards errs, logs
	errs []string
	logs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.errs) > 0
}

func (r *recorder) Logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func (r *recorder) errors() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errs...)
}

func newRequest(t *testing.T, method, target, body string) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return req
}

// copyExecutable copies the test binary to dst, for the Apache user to run.
func copyExecutable(t *testing.T, dst string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	Chown(t, dst)
}

// isZombie reports whether pid is a zombie: exited, not yet reaped by its (new) parent.
func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i >= 0 && strings.HasPrefix(string(b[i+1:]), " Z")
}
