package main

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mpgate/mpgate/fcgi"
	"github.com/mpgate/mpgate/internal/apachetest"
)

// This file tests the CGI transport (cgi.go, apache-conf/mpgate-cgi.conf):
// the mapping of an Action request's CGI environment back to the original
// request's FastCGI params, the relay's own answers (daemon unavailable, bad
// input), its memory, and, end to end, a site served by real mod_python and
// by mpgate through mod_cgid and the snippet (testdata/cgi), compared
// request by request.

// gapCGILocalRedirect is a limit of CGI (docs/compat.md), as of mod_fcgid.
const gapCGILocalRedirect = "mod_cgi/mod_cgid turn a 200 response with a local Location into an internal redirect"

// cgiCases are the requests of the CGI differential: the default host
// (coreapi's lib/api.py, /loc, /auth, /sess), the second name-based host,
// and mod_python's test_fileupload host.
var cgiCases = []apiCase{
	get("", "/api/request", normalizeMainServerName),
	get("", "/api/request/extra/path?a=1&b=2&a=3", normalizeMainServerName),
	get("", "/api/request%20x/%7Euser/a%2Fb?q=%41&r", normalizeMainServerName),
	get("", "/api/page.txt", normalizeMainServerName),
	get("", "/api/page.txt/x/y", normalizeMainServerName),
	get("", "/api/debug/request", normalizeMainServerName),
	get("", "/api/nothing.py/x", normalizeMainServerName),
	get("", "/api/", normalizeMainServerName),
	// mod_cgi passes the words of a query without "=" as arguments.
	get("", "/api/request?members", normalizeMainServerName),
	get("", "/api/request?-h+--help", normalizeMainServerName),
	{method: "GET", path: "/api/request", norm: []normFunc{normalizeMainServerName},
		headers: []string{"X-Multi: one", "X-Multi: two", "x-lower: v", "Accept-Language: en, fr", "Cookie: a=b"}},
	{method: "POST", path: "/api/request?p", body: "name=value&x=y", headers: []string{"Content-Type: application/x-www-form-urlencoded"}, norm: []normFunc{normalizeMainServerName}},
	{method: "HEAD", path: "/api/request", norm: []normFunc{normalizeMainServerName}},
	{method: "GET", path: "/api/request", host: "Other.Example:8080", norm: []normFunc{normalizeMainServerName}},
	{method: "GET", path: "/api/request", host: "www.other.example", norm: []normFunc{normalizeMainServerName}},
	{method: "GET", path: "/api/request/x?y=1", host: "other.example", norm: []normFunc{normalizeMainServerName}},
	get("other.example", "/api/raise_error"),
	get("other.example", "/", normalizeMainServerName),
	get("other.example", "/tests.py/x"),
	get("", "/api/request/caf%C3%A9?q=%C3%A9&r=caf\xc3\xa9", normalizeMainServerName),
	get("", "/api/request/%FF"),
	get("", "/api/write"),
	get("", "/api/big"),
	get("", "/api/buffered"),
	get("", "/api/late_headers"),
	get("", "/api/status_line"),
	get("", "/api/status_unknown"),
	get("", "/api/held_small"),
	get("", "/api/latin_header"),
	get("", "/api/status_redirect_ok"),
	{method: "GET", path: "/api/location_200", gap: gapCGILocalRedirect},
	get("", "/api/ctype_header"),
	get("", "/api/empty"),
	{method: "HEAD", path: "/api/write"},
	get("", "/api/content_length"),
	get("", "/api/no_cache", normalizeNow),
	get("", "/api/last_modified"),
	{method: "GET", path: "/api/last_modified", headers: []string{"If-Modified-Since: Sun, 09 Sep 2001 01:46:41 GMT"}},
	get("", "/api/sendfile"),
	get("", "/api/declined"),
	get("", "/api/not_found"),
	get("", "/api/forbidden"),
	get("", "/api/server_error"),
	get("", "/api/redirect"),
	get("", "/api/moved"),
	get("", "/api/not_modified"),
	get("", "/api/no_content"),
	get("", "/api/raise_error"),
	get("", "/api/debug/raise_error"),
	get("", "/api/debug/raise_after_write"),
	get("", "/api/system_exit"),
	{method: "POST", path: "/api/read?parts", body: "0123456789abcdefghij"},
	{method: "POST", path: "/api/read?lines", body: "line one\nline two\n\nline four\nlast"},
	{method: "POST", path: "/api/read", body: ""},
	{method: "PUT", path: "/api/read", body: "put body"},
	{method: "POST", path: "/api/read?discard", body: strings.Repeat("0123456789", 20000)},
	{method: "POST", path: "/api/request", body: body100k, norm: []normFunc{normalizeMainServerName}},
	{method: "GET", path: "/api/methods", norm: []normFunc{normalizeMPMQuery},
		logs: []string{"coreapi req.log_error line", "coreapi server.log_error line", "coreapi apache.log_error line"}},
	get("", "/loc"),
	get("", "/loc/"),
	get("", "/loc/a/b.py/c?x=1"),
	get("", "/auth/x"),
	{method: "GET", path: "/auth/x", headers: []string{basicAuth("user:pass:word")}},
	{method: "GET", path: "/auth/x", headers: []string{basicAuth("sp\xe1m:\xe9ggs")}},
	{method: "GET", path: "/auth/x?deny", headers: []string{basicAuth("user:pw")}},
	// Apache authenticates, the handler reads the user: the redirect
	// passes it as REDIRECT_REMOTE_USER, the relay as REMOTE_USER.
	get("", "/basic/x"),
	{method: "GET", path: "/basic/x", headers: []string{basicAuth("alice:wrong")}},
	{method: "GET", path: "/basic/x", headers: []string{basicAuth("alice:secret")}},
	upstreamUpload("test_fileupload", fixedRandomBytes(1024*1024)),
}

// cgiCompare is compareCase for the CGI transport: it sends c to both
// servers and compares the answers, except for their framing. Apache
// frames a CGI program's response itself: with Content-Length when it has
// read the whole body at its first look, chunked otherwise (the core's
// content-length filter reading the CGI bucket without blocking), whatever
// the handler flushed; mod_python's Apache sends chunked whenever the handler
// flushed (docs/compat.md). So a chunked response and one with
// Content-Length compare equal when their bodies do.
func cgiCompare(t *testing.T, ref, got *apachetest.Server, c apiCase) {
	t.Helper()
	var body io.Reader
	if c.body != "" || c.method == "POST" || c.method == "PUT" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = c.host
	for _, h := range c.headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	send := func(s *apachetest.Server) *apachetest.Response {
		r := req.Clone(req.Context())
		if c.body != "" {
			r.Body = io.NopCloser(strings.NewReader(c.body))
		}
		return s.Do(t, r)
	}
	want, have := send(ref), send(got)
	for _, r := range []*apachetest.Response{want, have} {
		if slices.Equal(r.Header["Transfer-Encoding"], []string{"chunked"}) {
			delete(r.Header, "Transfer-Encoding")
			r.Header["Content-Length"] = []string{"(framing)"}
		}
	}
	norm := append([]normFunc{normalizeTraceback}, c.norm...)
	what := c.method + " " + c.path
	if c.gap == "" {
		apachetest.CompareResponses(t, ref, got, what, want, have, norm...)
		return
	}
	rec := &gapRecorder{TB: t}
	apachetest.CompareResponses(rec, ref, got, what, want, have, norm...)
	checkGap(t, c.gap, rec.errs)
}

// cgiSite stages testdata/cgi (with the sites whose handlers it reuses) and
// starts real mod_python serving modpython.conf and an Apache without it
// serving cgi.conf through the snippet and mod_cgid; it returns both and
// the daemon's run directory.
func cgiSite(t *testing.T) (ref, got *apachetest.Server, run string) {
	t.Helper()
	core, _ := stageSiteFrom(t, "testdata/coreapi")
	forms, _ := stageSiteFrom(t, "testdata/forms")
	sess, _ := stageSiteFrom(t, "testdata/sessions")
	dir := apachetest.TempDir(t)
	// Apache's {SHA} form, which every build reads.
	sum := sha1.Sum([]byte("secret"))
	htpasswd := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(htpasswd, []byte("alice:{SHA}"+base64.StdEncoding.EncodeToString(sum[:])+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	places := strings.NewReplacer("@COREAPI@", core, "@FORMS@", forms, "@SESSIONS@", sess, "@HTPASSWD@", htpasswd)
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("testdata/cgi", name))
		if err != nil {
			t.Fatal(err)
		}
		return places.Replace(string(b))
	}
	conf := filepath.Join(dir, "cgi.conf")
	if err := os.WriteFile(conf, []byte(tagVhosts(read("cgi.conf"), conf)), 0o644); err != nil {
		t.Fatal(err)
	}
	apachetest.Chown(t, dir)
	ref = apachetest.ModPython(t, read("modpython.conf"), nil)
	got, run = cgiApache(t, conf, nil)
	return ref, got, run
}

// tagVhosts replaces each @VHOST@ by "FILE:LINE" of the <VirtualHost> line
// above it, as rewrite tags a site's hosts.
func tagVhosts(text, file string) string {
	lines := strings.Split(text, "\n")
	open := 0
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "<VirtualHost") {
			open = i + 1
		}
		lines[i] = strings.ReplaceAll(l, "@VHOST@", strconv.Quote(file+":"+strconv.Itoa(open)))
	}
	return strings.Join(lines, "\n")
}

// cgiApache starts an Apache serving conf (a site whose sections name
// mpgate-relay) through apache-conf/mpgate-cgi.conf, which loads mod_cgid and
// the rest itself. The daemon the first request starts is stopped when the
// test ends. extra is appended to the configuration.
func cgiApache(t *testing.T, conf string, extra []string) (*apachetest.Server, string) {
	t.Helper()
	snippet, err := filepath.Abs("../../apache-conf/mpgate-cgi.conf")
	if err != nil {
		t.Fatal(err)
	}
	run := apachetest.TempDir(t)
	t.Cleanup(func() { stopRelayDaemon(t, run) }) // after Apache's stop, before run's removal
	got := apachetest.Start(t, apachetest.Options{
		// The site's AuthType and AuthName (authn_core), AuthBasicFake and
		// AuthBasicProvider (auth_basic), AuthUserFile (authn_file), Require
		// valid-user (authz_user).
		Modules: []string{"authn_core", "auth_basic", "authn_file", "authz_user"},
		Config: fmt.Sprintf("Define MPGATE_BIN %s\nDefine MPGATE_CONFIG %s\nDefine MPGATE_RUN %s\nInclude %s\nInclude %s\n%s",
			mpgateBin, conf, run, snippet, conf, strings.Join(extra, "\n")),
	})
	got.AddLog(filepath.Join(run, "daemon.log"))
	return got, run
}

// stopRelayDaemon stops the daemon a relay (mod_fcgid's or CGI's) started in run, if any, and
// waits until it has exited: it runs in a session of its own, which the test cannot wait(2) for.
func stopRelayDaemon(t *testing.T, run string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(run, "mpgate.pid"))
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 || syscall.Kill(pid, syscall.SIGTERM) != nil {
		return
	}
	if !waitExited(context.Background(), pid, 30*time.Second) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("the daemon a relay started (pid %d) did not exit within 30s of SIGTERM", pid)
	}
}

// TestCGI sends every cgiCases request, a chunked body, a session's
// requests, and requests for the relay's own URL, to real mod_python and to
// mpgate through mod_cgid, and compares the answers.
func TestCGI(t *testing.T) {
	ref, got, run := cgiSite(t)
	gotLog := got.ErrorLogPath
	for _, c := range cgiCases {
		t.Run(c.title(), func(t *testing.T) {
			cgiCompare(t, ref, got, c)
			for _, want := range c.logs {
				ref.WaitLog(t, want, 10*time.Second)
				waitFileContains(t, gotLog, want, 10*time.Second)
			}
		})
	}
	t.Run("chunked body", func(t *testing.T) {
		// mod_cgid passes the body de-chunked, without CONTENT_LENGTH: the
		// daemon sees the client's Transfer-Encoding (MPGATE_TRANSFER_ENCODING)
		// and req.read() answers 411, as mod_python's does; mod_python 3.5
		// with several interpreters then answers 500 (docs/compat.md, "SERVER_RETURN
		// raised by req.read() for a chunked request body").
		req, err := http.NewRequest("POST", "/api/read?lines", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Body = io.NopCloser(strings.NewReader(strings.Repeat("chunk of a body\n", 5000)))
		req.ContentLength = -1 // sent chunked
		if r := got.Do(t, req); r.Status != 411 {
			t.Errorf("mpgate: chunked POST: %d %q, want 411", r.Status, r.Body)
		}
		req.Body = io.NopCloser(strings.NewReader("x"))
		if r := ref.Do(t, req); r.Status != 500 {
			t.Errorf("mod_python: chunked POST: %d, want its 500 (if this changed, compare the two)", r.Status)
		}
	})
	t.Run("session", func(t *testing.T) {
		compareSessionSteps(t, ref, got, "/sess/f/x?", "pysid=@SID@; path=/")
	})
	t.Run("relay URL refused to clients", func(t *testing.T) {
		for _, p := range []string{"/mpgate-cgi", "/mpgate-cgi/api/request", "/mpgate-cgi/auth/x?deny"} {
			for _, host := range []string{"", "other.example"} {
				if r := got.Get(t, p, "Host: "+host); r.Status != 403 {
					t.Errorf("GET %s (Host %q): %d %q, want Apache's 403", p, host, r.Status, r.Body)
				}
			}
		}
	})
	t.Run("daemon started again", func(t *testing.T) {
		// The daemon exits (its idle exit, a crash): the next request's
		// relay starts another, and several at once start one.
		old, _ := os.ReadFile(filepath.Join(run, "mpgate.pid"))
		stopRelayDaemon(t, run)
		errs := make(chan string, 4)
		for range 4 {
			go func() {
				resp, err := http.Get(got.URL + "/api/empty")
				if err != nil {
					errs <- err.Error()
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs <- fmt.Sprintf("%d %q", resp.StatusCode, b)
					return
				}
				errs <- ""
			}()
		}
		for range 4 {
			if e := <-errs; e != "" {
				t.Errorf("GET /api/empty after the daemon stopped: %s, want 200", e)
			}
		}
		now, _ := os.ReadFile(filepath.Join(run, "mpgate.pid"))
		if len(now) == 0 || string(now) == string(old) {
			t.Errorf("daemon pid %q after the restart, was %q", now, old)
		}
		b, _ := os.ReadFile(got.ErrorLogPath)
		if n := strings.Count(string(b), "started mpgate daemon"); n != 2 {
			t.Errorf("the error log says %d times that a relay started the daemon, want 2 (first request, restart)", n)
		}
	})
	t.Run("handler log lines", func(t *testing.T) {
		// Each STDERR record of the daemon (one log line of a handler) is
		// a line of Apache's error log, as through the other transports.
		b, _ := os.ReadFile(gotLog)
		seen := 0
		for _, l := range strings.Split(string(b), "\n") {
			if n := strings.Count(l, "coreapi "); n > 0 {
				seen++
				if n > 1 || !strings.Contains(l, "[mpgate:error] [pid ") {
					t.Errorf("error log line %q: want one handler line in error_log's format", l)
				}
			}
		}
		if seen < 3 {
			t.Errorf("%d lines of /api/methods in the error log, want at least 3", seen)
		}
	})
	t.Run("daemon log", func(t *testing.T) {
		// The daemon the first request started logs to RUN/daemon.log, not
		// to a request's stderr (a pipe that ends with the request).
		waitFileContains(t, filepath.Join(run, "daemon.log"), "mpgate", 10*time.Second)
	})
}

// cgiEnv is the CGI environment mod_cgid gives the relay for an Action
// request of GET uri (path and query) with DocumentRoot root, mapped to
// the file translated (fastcgi-apache.md §4, C3), plus extra entries.
func cgiEnv(root, uri, translated string, extra ...string) []string {
	path, query, _ := strings.Cut(uri, "?")
	env := []string{
		"REDIRECT_MPGATE_VHOST=site.conf:3", "REDIRECT_CGI_DIR_VAR=dir", "REDIRECT_HANDLER=mpgate-relay",
		"REDIRECT_STATUS=200", "MPGATE_CGI=1", "MPGATE_CONFIG=/etc/site.conf", "MPGATE_RUN_DIR=/run/x",
		"ap_trust_cgilike_cl=1", "MPGATE_CLIENT_HEADERS=1", "HTTP_HOST=example.com", "HTTP_X_ONE=1",
		"PATH=/usr/bin:/bin", "SERVER_NAME=example.com", "DOCUMENT_ROOT=" + root,
		"CONTEXT_PREFIX=/mpgate-cgi", "CONTEXT_DOCUMENT_ROOT=/usr/bin/mpgate",
		"SCRIPT_FILENAME=/usr/bin/mpgate", "REDIRECT_URL=" + path, "GATEWAY_INTERFACE=CGI/1.1",
		"REQUEST_METHOD=GET", "QUERY_STRING=" + query, "REQUEST_URI=" + uri, "SCRIPT_NAME=/mpgate-cgi",
		"PATH_INFO=" + path, "PATH_TRANSLATED=" + translated,
	}
	if query != "" {
		env = append(env, "REDIRECT_QUERY_STRING="+query)
	}
	return append(env, extra...)
}

func paramMap(ps []fcgi.Param) map[string]string {
	m := map[string]string{}
	for _, p := range ps {
		if _, dup := m[p.Name]; dup {
			m[p.Name] += "\x00" + p.Value
			continue
		}
		m[p.Name] = p.Value
	}
	return m
}

// TestCGIParams checks the mapping of an Action request's CGI environment
// to the original request's params against what mod_fcgid sends for the
// same URLs (fastcgi-apache.md §1.4, B and D).
func TestCGIParams(t *testing.T) {
	d := t.TempDir()
	for _, p := range []string{"virt/sub", "site/dir"} {
		if err := os.MkdirAll(filepath.Join(d, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"virt/file.py", "site/file.py"} {
		if err := os.WriteFile(filepath.Join(d, p), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	type want struct{ scriptName, filename, pathInfo, prefix, ctxRoot string }
	tests := []struct {
		uri, translated string
		want            want
	}{
		{"/virt/", d + "/virt/", want{"/virt/", d + "/virt/", "", "", d}},
		{"/virt/file.py", d + "/virt/file.py", want{"/virt/file.py", d + "/virt/file.py", "", "", d}},
		{"/virt/file.py/extra/path?q=1", d + "/virt/file.py/extra/path", want{"/virt/file.py", d + "/virt/file.py", "/extra/path", "", d}},
		{"/virt/nonexistent", d + "/virt/nonexistent", want{"/virt/nonexistent", d + "/virt/nonexistent", "", "", d}},
		{"/virt/nonexist.py/x", d + "/virt/nonexist.py/x", want{"/virt/nonexist.py", d + "/virt/nonexist.py", "/x", "", d}},
		{"/virt/sub/", d + "/virt/sub/", want{"/virt/sub/", d + "/virt/sub/", "", "", d}},
		{"/virt/sub/a/", d + "/virt/sub/a/", want{"/virt/sub/a", d + "/virt/sub/a", "/", "", d}},
		// <Location /loc> with nothing on disk.
		{"/loc", d + "/loc", want{"/loc", d + "/loc", "", "", d}},
		{"/loc/file.py/extra/path", d + "/loc/file.py/extra/path", want{"/loc", d + "/loc", "/file.py/extra/path", "", d}},
		{"/loc/a b/c", d + "/loc/a b/c", want{"/loc", d + "/loc", "/a b/c", "", d}},
		// Alias /fg DIR/site.
		{"/fg/file.py/x", d + "/site/file.py/x", want{"/fg/file.py", d + "/site/file.py", "/x", "/fg", d + "/site"}},
		{"/fg/dir/", d + "/site/dir/", want{"/fg/dir/", d + "/site/dir/", "", "/fg", d + "/site"}},
		{"/fg/x\xff/y", d + "/site/x\xff/y", want{"/fg/x\xff", d + "/site/x\xff", "/y", "/fg", d + "/site"}},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			ps, err := cgiParams(cgiEnv(d, tt.uri, tt.translated), os.Stat)
			if err != nil {
				t.Fatal(err)
			}
			m := paramMap(ps)
			path, _, _ := strings.Cut(tt.uri, "?")
			w := map[string]string{
				"SCRIPT_NAME": tt.want.scriptName, "SCRIPT_FILENAME": tt.want.filename,
				"CONTEXT_PREFIX": tt.want.prefix, "CONTEXT_DOCUMENT_ROOT": tt.want.ctxRoot,
				"REQUEST_URI": tt.uri, "MPGATE_VHOST": "site.conf:3", "CGI_DIR_VAR": "dir",
				"MPGATE_TRANSPORT": "cgi", "HTTP_X_ONE": "1",
			}
			if tt.want.pathInfo != "" {
				w["PATH_INFO"], w["PATH_TRANSLATED"] = tt.want.pathInfo, d+tt.want.pathInfo
			}
			for k, v := range w {
				if m[k] != v {
					t.Errorf("%s = %q, want %q", k, m[k], v)
				}
			}
			if tt.want.pathInfo == "" {
				for _, k := range []string{"PATH_INFO", "PATH_TRANSLATED"} {
					if v, ok := m[k]; ok {
						t.Errorf("%s = %q, want none (%s has no path info)", k, v, path)
					}
				}
			}
			for _, k := range []string{"REDIRECT_STATUS", "REDIRECT_URL", "REDIRECT_QUERY_STRING", "REDIRECT_HANDLER",
				"REDIRECT_MPGATE_VHOST", "MPGATE_CGI", "MPGATE_CONFIG", "MPGATE_RUN_DIR"} {
				if v, ok := m[k]; ok {
					t.Errorf("%s = %q passed on, want it dropped", k, v)
				}
			}
		})
	}

	t.Run("REDIRECT_ copies", func(t *testing.T) {
		env := cgiEnv(d, "/virt/file.py", d+"/virt/file.py",
			"REDIRECT_REMOTE_USER=alice", "REDIRECT_HTTP_X_ONE=stale", "REDIRECT_REDIRECT_STATUS=404",
			"REDIRECT_REDIRECT_URL=/missing", "REDIRECT_SCRIPT_NAME=/mpgate-cgi")
		ps, err := cgiParams(env, os.Stat)
		if err != nil {
			t.Fatal(err)
		}
		m := paramMap(ps)
		for k, v := range map[string]string{
			"REMOTE_USER": "alice", "HTTP_X_ONE": "1", "REDIRECT_STATUS": "404", "REDIRECT_URL": "/missing",
			"SCRIPT_NAME": "/virt/file.py",
		} {
			if m[k] != v {
				t.Errorf("%s = %q, want %q", k, m[k], v)
			}
		}
	})

	t.Run("order and duplicates kept", func(t *testing.T) {
		env := cgiEnv(d, "/virt/file.py", d+"/virt/file.py", "HTTP_X_MULTI=one", "HTTP_X_MULTI=two")
		ps, err := cgiParams(env, os.Stat)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range ps {
			if strings.HasPrefix(p.Name, "HTTP_") {
				names = append(names, p.Name+"="+p.Value)
			}
		}
		if want := []string{"HTTP_HOST=example.com", "HTTP_X_ONE=1", "HTTP_X_MULTI=one", "HTTP_X_MULTI=two"}; !slices.Equal(names, want) {
			t.Errorf("HTTP_ params %q, want %q", names, want)
		}
	})

	t.Run("no PATH_TRANSLATED", func(t *testing.T) {
		var env []string
		for _, e := range cgiEnv(d, "/virt/file.py/x", "") {
			if !strings.HasPrefix(e, "PATH_TRANSLATED=") {
				env = append(env, e)
			}
		}
		ps, err := cgiParams(env, os.Stat)
		if err != nil {
			t.Fatal(err)
		}
		if m := paramMap(ps); m["SCRIPT_FILENAME"] != d+"/virt/file.py" || m["PATH_INFO"] != "/x" {
			t.Errorf("SCRIPT_FILENAME %q PATH_INFO %q, want %q and /x (from DOCUMENT_ROOT)", m["SCRIPT_FILENAME"], m["PATH_INFO"], d+"/virt/file.py")
		}
	})

	errs := []struct {
		name   string
		env    []string
		status int
		msg    string
	}{
		{"not through Action", slices.DeleteFunc(cgiEnv(d, "/virt/x", d+"/virt/x"), func(e string) bool {
			return strings.HasPrefix(e, "REDIRECT_HANDLER=")
		}), 403, "did not come through Action"},
		{"entry without =", append(cgiEnv(d, "/virt/x", d+"/virt/x"), "BROKEN"), 500, `"BROKEN" is not NAME=VALUE`},
		{"empty name", append(cgiEnv(d, "/virt/x", d+"/virt/x"), "=x"), 500, "is not NAME=VALUE"},
		{"control byte in a name", append(cgiEnv(d, "/virt/x", d+"/virt/x"), "BAD\x01NAME=x"), 500, "byte 0x01 in its name"},
		{"non-ASCII name", append(cgiEnv(d, "/virt/x", d+"/virt/x"), "CAF\xc3\xa9=x"), 500, "byte 0xc3 in its name"},
		{"relative PATH_INFO", cgiEnv(d, "x", d+"/x"), 500, "is not the original request's path"},
		{"relative PATH_TRANSLATED", cgiEnv(d, "/x", "x"), 500, "is not an absolute path"},
	}
	for _, e := range errs {
		t.Run(e.name, func(t *testing.T) {
			_, err := cgiParams(e.env, os.Stat)
			var ce *cgiError
			if !errors.As(err, &ce) || ce.status != e.status || !strings.Contains(err.Error(), e.msg) {
				t.Fatalf("error %v, want a %d saying %q", err, e.status, e.msg)
			}
		})
	}

	t.Run("environment too large", func(t *testing.T) {
		huge := "/" + strings.Repeat("p", 2<<20)
		ps, err := cgiParams(cgiEnv(d, huge, d+huge), os.Stat)
		if err != nil {
			t.Fatal(err)
		}
		err = checkParamsSize(ps)
		var ce *cgiError
		if !errors.As(err, &ce) || ce.status != 414 || !strings.Contains(err.Error(), "the largest variable is") {
			t.Fatalf("error %v, want a 414 naming the largest variable", err)
		}
	})
}

// TestDaemonEnv checks that a daemon a CGI relay starts inherits none of
// the request's variables.
func TestDaemonEnv(t *testing.T) {
	got := daemonEnv(append(cgiEnv("/srv", "/x?y", "/srv/x"), "LANG=C", "MPGATE_WORKERS=3", "HTTPS=on", "SSL_PROTOCOL=TLSv1.3"))
	want := []string{"MPGATE_CONFIG=/etc/site.conf", "MPGATE_RUN_DIR=/run/x", "PATH=/usr/bin:/bin", "LANG=C", "MPGATE_WORKERS=3"}
	if !slices.Equal(got, want) {
		t.Errorf("daemonEnv = %q, want %q", got, want)
	}
}

// runRelay runs the mpgate binary as Apache runs the CGI relay, with env,
// stdin and arguments, and returns its stdout, stderr and exit status.
func runRelay(t *testing.T, env []string, stdin io.Reader, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(mpgateBin, args...)
	cmd.Env = env
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

// TestCGIRelayErrors runs the relay as Apache does, where it must answer
// itself: a daemon that cannot start, a socket nobody listens on, a request
// that did not come through Action, an environment too large. Each gets a
// CGI response with the status and one line naming the cause on stderr.
func TestCGIRelayErrors(t *testing.T) {
	d := t.TempDir()
	run := filepath.Join(d, "run")
	base := func(extra ...string) []string {
		env := cgiEnv(d, "/x/y", d+"/x/y", "MPGATE_RUN_DIR="+run, "MPGATE_CONFIG="+filepath.Join(d, "missing.conf"))
		return append(slices.DeleteFunc(env, func(e string) bool {
			return strings.HasPrefix(e, "MPGATE_RUN_DIR=/run/x") || strings.HasPrefix(e, "MPGATE_CONFIG=/etc/")
		}), extra...)
	}
	tests := []struct {
		name   string
		env    []string
		status string
		log    string
	}{
		{"daemon cannot start", base(), "Status: 503 Service Unavailable\r\n", "daemon exited at start"},
		{"not through Action", slices.DeleteFunc(base(), func(e string) bool { return strings.HasPrefix(e, "REDIRECT_HANDLER=") }),
			"Status: 403 Forbidden\r\n", "did not come through Action"},
		{"environment too large", base(func() []string {
			var big []string
			for i := range 9 {
				big = append(big, fmt.Sprintf("HTTP_X_BIG%d=%s", i, strings.Repeat("b", 120<<10)))
			}
			return big
		}()...), "Status: 431 Request Header Fields Too Large\r\n", "more than the 1048576 the daemon accepts"},
		{"bad variable name", base("BAD\x01=1"), "Status: 500 Internal Server Error\r\n", "byte 0x01 in its name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runRelay(t, tt.env, strings.NewReader(""))
			if !strings.HasPrefix(out, tt.status) || !strings.Contains(out, "\r\n\r\n") {
				t.Errorf("stdout %q, want a CGI response starting %q", out, tt.status)
			}
			if !strings.Contains(errOut, tt.log) || code == 0 {
				t.Errorf("stderr %q, exit %d; want a line saying %q and a failure status", errOut, code, tt.log)
			}
		})
	}
	t.Run("not started by Apache", func(t *testing.T) {
		// Without MPGATE_CGI the binary is the ordinary command line.
		out, _, code := runRelay(t, []string{"GATEWAY_INTERFACE=CGI/1.1", "PATH=/usr/bin:/bin"}, nil, "version")
		if code != 0 || !strings.HasPrefix(out, "mpgate ") {
			t.Errorf("mpgate version with GATEWAY_INTERFACE alone: exit %d, %q", code, out)
		}
	})
}

// TestCGIRelayMemory streams a large body through the relay, run as
// Apache runs it, to a daemon it starts, and checks that the relay's
// resident memory stays far below the body's size: its high-water mark
// (VmHWM) once the whole body went through, read while the relay still
// waits for the end of its stdin. (The rusage of wait4 will not do: a child
// made with vfork counts the parent's resident pages until its exec.)
func TestCGIRelayMemory(t *testing.T) {
	core, conf := stageSiteFrom(t, "testdata/coreapi")
	run := apachetest.TempDir(t)
	t.Cleanup(func() { stopRelayDaemon(t, run) })
	const size = 64 << 20
	env := cgiEnv(core+"/htdocs", "/api/read?discard", core+"/htdocs/api/read",
		"MPGATE_RUN_DIR="+run, "MPGATE_CONFIG="+conf, "REQUEST_METHOD=POST",
		"CONTENT_LENGTH="+strconv.Itoa(size))
	env = slices.DeleteFunc(env, func(e string) bool {
		return e == "MPGATE_RUN_DIR=/run/x" || e == "MPGATE_CONFIG=/etc/site.conf" || e == "REQUEST_METHOD=GET" ||
			strings.HasPrefix(e, "REDIRECT_MPGATE_VHOST=")
	})
	// A first request starts the daemon.
	if out, errOut, code := runRelay(t, env, io.LimitReader(zeroReader{}, size)); code != 0 || !strings.HasPrefix(out, "Status: 200") {
		t.Fatalf("relay: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(mpgateBin)
	cmd.Env, cmd.Stdin = env, pr
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pr.Close()
	if _, err := io.Copy(pw, io.LimitReader(zeroReader{}, size-1)); err != nil {
		t.Fatalf("write the body: %v (stderr %q)", err, errb.String())
	}
	status, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	pw.Write([]byte{0})
	pw.Close()
	if err := cmd.Wait(); err != nil || !strings.HasPrefix(out.String(), "Status: 200") {
		t.Fatalf("relay: %v, stdout %q, stderr %q", err, out.String(), errb.String())
	}
	m := regexp.MustCompile(`(?m)^VmHWM:\s+(\d+) kB`).FindSubmatch(status)
	if m == nil {
		t.Fatalf("no VmHWM in /proc/PID/status:\n%s", status)
	}
	hwm, _ := strconv.Atoi(string(m[1]))
	t.Logf("relay peak RSS %d KiB after a %d MiB body", hwm, size>>20)
	if hwm > 32<<10 {
		t.Errorf("relay peak RSS %d KiB after a %d MiB body: it must stream, not buffer", hwm, size>>20)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestCGIRelayResend checks the relay's one retry: a daemon that closes the
// connection before answering (its idle exit at that moment) gets the
// request again on a new connection, body included, if no more than
// replayBytes of it had been read; otherwise the client gets a 502. The
// daemon's side is package fcgi's Server, behind a listener whose first
// connection is closed once it has read `cut` bytes: no real daemon can be
// made to exit at that moment on demand.
func TestCGIRelayResend(t *testing.T) {
	tests := []struct {
		name       string
		body, cut  int
		wantStatus string
	}{
		{"no body", 0, 16, "Status: 200"},
		{"body kept", 40 << 10, 30 << 10, "Status: 200"},
		{"body beyond replayBytes", 200 << 10, 100 << 10, "Status: 502 Bad Gateway"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := &fcgi.Server{Handler: fcgi.HandlerFunc(func(w *fcgi.Response, r *fcgi.Request) uint32 {
				n, _ := io.Copy(io.Discard, r.Stdin)
				fmt.Fprintf(w, "Status: 200\r\nContent-Type: text/plain\r\n\r\nbody %d bytes, uri %s\n", n, r.Param("SCRIPT_NAME"))
				return 0
			})}
			sock := filepath.Join(t.TempDir(), "s")
			ln, err := net.Listen("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			conns := 0
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					conns++
					if conns == 1 {
						go func() {
							io.CopyN(io.Discard, c, int64(tt.cut))
							c.Close()
						}()
						continue
					}
					go srv.ServeConn(c)
				}
			}()
			ps := []fcgi.Param{{Name: "SCRIPT_NAME", Value: "/app/x"}, {Name: "REQUEST_METHOD", Value: "POST"}}
			var out, errb bytes.Buffer
			r := &cgiRelay{
				head:  appendRequestHead(nil, ps),
				stdin: io.LimitReader(zeroReader{}, int64(tt.body)), stdout: &out,
				log:   slog.New(newApacheHandler(&errb, slog.LevelInfo)),
				dial:  func() (net.Conn, error) { return net.Dial("unix", sock) },
				start: func() (net.Conn, error) { return nil, errors.New("no daemon to start here") },
			}
			err = r.serve(context.Background())
			if !strings.HasPrefix(out.String(), tt.wantStatus) {
				t.Fatalf("stdout %q (err %v), want %q", out.String(), err, tt.wantStatus)
			}
			if tt.wantStatus == "Status: 200" {
				if want := fmt.Sprintf("body %d bytes, uri /app/x\n", tt.body); !strings.HasSuffix(out.String(), want) || err != nil {
					t.Errorf("stdout %q, err %v; want the answer to the whole request %q", out.String(), err, want)
				}
			} else if err == nil || !strings.Contains(err.Error(), "before answering") {
				t.Errorf("err %v, want one saying the daemon closed the connection before answering", err)
			}
		})
	}
}
