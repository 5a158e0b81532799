package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mpgate/mpgate/internal/apachetest"
)

// This file is the differential suite of the core request API (issue 2):
// mod_python 3.5's own per-request tests (grisha/mod_python test/test.py,
// class P of mod_python.md §6) ported to testdata/coreapi, one <VirtualHost>
// per test as there, and mpgate's own cases in the site's default host. Each
// request goes to real mod_python and to mpgate behind mod_fcgid and
// mod_proxy_fcgi; status, headers, bodies and the error-log lines
// mod_python's tests look for are compared.

type normFunc = func([]byte, *apachetest.Server) []byte

// apiCase is one request of the suite.
type apiCase struct {
	name         string // subtest name; defaults to "METHOD path (host)"
	method, path string
	host         string // Host header; "" = the default virtual host
	body         string
	headers      []string
	// close asks both servers to close the connection after the answer: for
	// requests whose effects mod_python keeps for the rest of the client's
	// connection (a host name looked up), which mpgate cannot see.
	close bool
	// logs must appear in both servers' error logs after the request
	// (mod_python's tests grep error_log for them).
	logs []string
	// norm are this case's own normalisers, each documented where defined.
	norm []normFunc
	// gap, when set, names a known difference: a limit of the transport
	// (docs/compat.md). The comparison runs and its differences are logged
	// instead of failing the test, and the test fails once there are none,
	// so that the mark is removed.
	gap string
	// gapVia limits gap to one transport ("fcgid" or "proxy").
	gapVia string
}

func (c apiCase) title() string {
	if c.name != "" {
		return c.name
	}
	t := c.method + " " + c.path
	if c.host != "" {
		t += " (" + c.host + ")"
	}
	return t
}

func get(host, path string, norm ...normFunc) apiCase {
	return apiCase{method: "GET", path: path, host: host, norm: norm}
}

func basicAuth(userpass string) string {
	return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(userpass))
}

// Request bodies of mod_python's test_req_read, test_req_readline and test_req_readlines.
var (
	body100k  = strings.Repeat("1234567890", 10000)
	bodyLines = strings.Repeat(strings.Repeat("1234567890", 3000)+"\n", 4)
)

// gapFcgidLocalRedirect is a limit of mod_fcgid (docs/compat.md).
const gapFcgidLocalRedirect = "mod_fcgid turns a 200 response with a local Location into an internal redirect"

// upstreamCases port the per-request tests of mod_python 3.5's test/test.py
// that concern the core request API and run in the content phase (class P
// of mod_python.md §6, plus the E ones mpgate emulates: Allow, Expires,
// Last-Modified). Each has its own <VirtualHost>, selected by Host, with the
// configuration test.py gives it (testdata/coreapi/site.conf).
var upstreamCases = []apiCase{
	get("test_req_document_root", "/tests.py"),
	get("test_req_add_handler", "/tests.py"),
	{method: "GET", path: "/tests.py", host: "test_req_add_bad_handler", logs: []string{"contains no 'bad_handler'"}},
	get("test_req_add_empty_handler_string", "/tests.py"),
	get("test_req_allow_methods", "/tests.py", normalizeAllow),
	{name: "test_req_unauthorized good", method: "GET", path: "/tests.py", host: "test_req_unauthorized", headers: []string{basicAuth("spam:eggs")}},
	{name: "test_req_unauthorized bad", method: "GET", path: "/tests.py", host: "test_req_unauthorized", headers: []string{basicAuth("spam:BAD PASSWD")}},
	{name: "test_req_unauthorized none", method: "GET", path: "/tests.py", host: "test_req_unauthorized"},
	{name: "test_req_get_basic_auth_pw", method: "GET", path: "/tests.py", host: "test_req_get_basic_auth_pw", headers: []string{basicAuth("spam:eggs")}},
	{name: "test_req_get_basic_auth_pw_latin1", method: "GET", path: "/tests.py", host: "test_req_get_basic_auth_pw", headers: []string{basicAuth("sp\xe1m:\xe9ggs")}},
	get("test_req_construct_url", "/tests.py"),
	get("test_req_construct_url:8123", "/tests.py"),
	{name: "test_req_read", method: "POST", path: "/tests.py", host: "test_req_read", body: body100k},
	{name: "test_req_readline", method: "POST", path: "/tests.py", host: "test_req_readline", body: bodyLines},
	{name: "test_req_readlines", method: "POST", path: "/tests.py", host: "test_req_readlines", body: bodyLines},
	{name: "test_req_readlines 30000", method: "POST", path: "/tests.py", host: "test_req_readlines", body: bodyLines, headers: []string{"SizeHint: 30000"}},
	{name: "test_req_readlines 32000", method: "POST", path: "/tests.py", host: "test_req_readlines", body: bodyLines, headers: []string{"SizeHint: 32000"}},
	{name: "test_req_discard_request_body", method: "GET", path: "/tests.py", host: "test_req_discard_request_body", body: "12345678901234567890"},
	{method: "GET", path: "/tests.py", host: "test_req_register_cleanup", logs: []string{"req_register_cleanup test ok"}},
	get("test_req_headers_out", "/test.py"),
	get("test_req_sendfile", "/tests.py"),
	get("test_req_sendfile2", "/tests.py"),
	get("test_req_sendfile3", "/tests.py"),
	get("test_req_no_cache", "/tests.py", normalizeNow),
	get("test_req_update_mtime", "/tests.py"),
	get("test_req_server_get_config", "/tests.py"),
	get("test_req_server_get_options", "/tests.py"),
	get("test_sys_argv", "/tests.py"),
	get("test_PythonOption", "/tests.py"),
	get("test_PythonOption_override", "/tests.py"),
	get("test_PythonOption_remove", "/tests.py"),
	get("test_PythonOption_remove2", "/tests.py"),
	get("test_interpreter_per_directive", "/"),
	get("test_interpreter_per_directive", "/subdir/foo.py"),
	get("test_interpreter_per_directive", "/subdir/"),
	get("test_interpreter_per_directory", "/"),
	get("test_interpreter_per_directory", "/subdir/foo.py"),
	get("test_interpreter_per_directory", "/subdir/"),
	get("test_interpreter_per_directory", "/subdir"),
	get("test_files_directive", "/tests.py"),
	get("test_none_handler", "/tests.py"),
	get("test_server_return", "/tests.py"),
	// test_internal's SimpleTestCase, one part per query (tests.py handler).
	get("test_internal", "/tests.py?members"),
	get("test_internal", "/tests.py?server", normalizeDefinition, normalizeMainServerName),
	get("test_internal", "/tests.py?connection", normalizeKeepalives),
	get("test_internal", "/tests.py?config"),
	// mod_python remembers the host name it looks up for the rest of the
	// connection (conn->remote_host): closing it keeps later cases apart.
	{method: "GET", path: "/tests.py?remote_host", host: "test_internal", close: true},
	get("test_internal", "/tests.py?common_vars"),
	get("test_internal", "/tests.py?cgi_vars"),
	get("test_internal", "/tests.py?table"),
}

// apiCases are mpgate's own cases in the default virtual host (lib/api.py).
var apiCases = []apiCase{
	get("", "/api/request", normalizeMainServerName),
	get("", "/api/request/extra/path?a=1&b=2&a=3", normalizeMainServerName),
	get("", "/api/request%20x/%7Euser/a%2Fb?q=%41&r", normalizeMainServerName),
	get("", "/api/page.txt", normalizeMainServerName),
	get("", "/api/page.txt/x/y", normalizeMainServerName),
	get("", "/api/debug/request", normalizeMainServerName),
	get("", "/api/quiet/request", normalizeMainServerName),
	{method: "GET", path: "/api/request", norm: []normFunc{normalizeMainServerName},
		headers: []string{"X-Multi: one", "X-Multi: two", "x-lower: v", "Accept-Language: en, fr", "Expect: 100-continue"}},
	{method: "POST", path: "/api/request?p", body: "name=value&x=y", headers: []string{"Content-Type: application/x-www-form-urlencoded"}, norm: []normFunc{normalizeMainServerName}},
	{method: "HEAD", path: "/api/request", norm: []normFunc{normalizeMainServerName}},
	{method: "GET", path: "/api/request", host: "Other.Example:8080", norm: []normFunc{normalizeMainServerName}},
	get("", "/api/request/caf%C3%A9?q=%C3%A9&r=caf\xc3\xa9", normalizeMainServerName),
	get("", "/api/request/%FF"),
	get("", "/api/debug/request/%FF"),
	{method: "OPTIONS", path: "/api/request", norm: []normFunc{normalizeMainServerName}},
	{method: "DELETE", path: "/api/request", norm: []normFunc{normalizeMainServerName}},
	{method: "PATCH", path: "/api/request", body: "x", norm: []normFunc{normalizeMainServerName}},
	get("", "/api/connection"),
	get("", "/api/servers"),
	get("test_internal", "/api/servers"),
	get("", "/api/write"),
	get("", "/api/big"),
	get("", "/api/buffered"),
	get("", "/api/late_headers"),
	get("", "/api/status_line"),
	get("", "/api/status_body"),
	get("", "/api/status_unknown"),
	get("", "/api/status_unknown_line"),
	get("", "/api/held_small"),
	get("", "/api/held_big"),
	get("", "/api/status_only"),
	get("", "/api/latin_header"),
	get("", "/api/status_redirect_ok"),
	// mod_fcgid makes a 200 response with a local Location an internal
	// redirect (CGI's local redirect); mod_proxy_fcgi and mod_python send it.
	{method: "GET", path: "/api/location_200", gap: gapFcgidLocalRedirect, gapVia: "fcgid"},
	get("", "/api/ctype_header"),
	get("", "/api/page.txt?ctype_header"),
	get("", "/api/imports"),
	get("", "/api/empty"),
	get("", "/api/empty_typed"),
	{method: "HEAD", path: "/api/empty"},
	{method: "HEAD", path: "/api/write"},
	get("", "/api/content_length"),
	get("", "/api/no_cache", normalizeNow),
	get("", "/api/last_modified"),
	{method: "GET", path: "/api/last_modified", headers: []string{"If-Modified-Since: Sun, 09 Sep 2001 01:46:41 GMT"}},
	get("", "/api/sendfile"),
	{method: "GET", path: "/api/page.txt?declined"},
	{method: "GET", path: "/api/declined"},
	get("", "/api/done"),
	get("", "/api/http_ok"),
	get("", "/api/result_42"),
	get("", "/api/result_1000"),
	get("", "/api/forbidden"),
	get("", "/api/not_found"),
	get("", "/api/gone"),
	get("", "/api/teapot"),
	get("", "/api/server_error"),
	get("", "/api/unavailable"),
	get("", "/api/bool"),
	get("", "/api/string"),
	get("", "/api/none"),
	get("", "/api/float"),
	get("", "/api/debug/bool"),
	get("", "/api/redirect"),
	get("", "/api/moved"),
	get("", "/api/created"),
	get("", "/api/not_modified"),
	get("", "/api/no_content"),
	get("", "/api/method_not_allowed", normalizeAllow),
	get("", "/api/not_implemented", normalizeAllow),
	get("", "/api/server_return"),
	get("", "/api/server_return_status"),
	get("", "/api/server_return_done"),
	get("", "/api/server_return_empty"),
	get("", "/api/debug/server_return_empty"),
	get("", "/api/raise_error"),
	get("", "/api/debug/raise_error"),
	get("", "/api/quiet/raise_error"),
	get("", "/api/raise_after_write"),
	get("", "/api/debug/raise_after_write"),
	get("", "/api/debug/raise_after_held_write"),
	get("", "/api/error_after_write"),
	get("", "/api/error_after_held_write"),
	get("", "/api/system_exit"),
	{method: "POST", path: "/api/read?parts", body: "0123456789abcdefghij"},
	{method: "POST", path: "/api/read?lines", body: "line one\nline two\n\nline four\nlast"},
	{method: "POST", path: "/api/read?mixed", body: "first\nsecond\nthird\nfourth\n"},
	{method: "POST", path: "/api/read?discard", body: "0123456789"},
	{method: "POST", path: "/api/read", body: ""},
	get("", "/api/read"),
	{method: "PUT", path: "/api/read", body: "put body"},
	get("", "/api/attributes"),
	{method: "GET", path: "/api/methods", norm: []normFunc{normalizeMPMQuery},
		logs: []string{"coreapi req.log_error line", "coreapi req.log_error warning",
			"coreapi server.log_error line", "coreapi connection.log_error line", "coreapi apache.log_error line"}},
	get("", "/api/config"),
	get("", "/api/debug/config"),
	get("", "/api/quiet/config"),
	get("", "/broken/x"),
	get("", "/broken/import/x", normalizeImportFrames),
	get("", "/broken/nocallable/x"),
	get("", "/broken/quiet/x"),
	get("", "/named/x"),
	get("", "/loc"),
	get("", "/loc/"),
	get("", "/loc/a/b.py/c?x=1"),
	get("", "/dotted/x"),
	get("", "/ext/file.txt"),
	get("", "/ext/x.py"),
	get("", "/ext/other"),
	get("", "/ext/a.b.py"),
	get("", "/stacked/x"),
	get("", "/stacked/page.txt"),
	get("", "/auth/x"),
	{method: "GET", path: "/auth/x", headers: []string{basicAuth("user:pass:word")}},
	{method: "GET", path: "/auth/x?deny", headers: []string{basicAuth("user:pw")}},
	get("", "/auth/x?deny"),
	{method: "GET", path: "/auth/x", headers: []string{`Authorization: Digest username="u", realm="core api"`}},
	{method: "GET", path: "/auth/x", headers: []string{"Authorization: Basic !!!notbase64"}},
}

// httpDate matches an HTTP date (RFC 1123, as Apache writes it) of this
// decade or later.
var httpDate = regexp.MustCompile(`[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} 20[2-9]\d \d\d:\d\d:\d\d GMT`)

// normalizeNow replaces HTTP dates of the present (Expires: <now> for
// req.no_cache) by "@NOW@": each server stamps the time it handled the
// request, which may fall in different seconds.
func normalizeNow(b []byte, _ *apachetest.Server) []byte {
	return httpDate.ReplaceAll(b, []byte("@NOW@"))
}

// allowList matches a header value that is a list of methods, as Allow is.
var allowList = regexp.MustCompile(`^[A-Z][A-Z-]*(,[A-Z][A-Z-]*)+$`)

// normalizeAllow sorts the methods of an Allow header: Apache lists them in
// the order of its method registry, a hash table seeded anew at each start
// (apr_hash_make), so two servers list the same methods in different orders.
func normalizeAllow(b []byte, _ *apachetest.Server) []byte {
	if !allowList.Match(b) {
		return b
	}
	m := strings.Split(string(b), ",")
	slices.Sort(m)
	return []byte(strings.Join(m, ","))
}

var definitionLines = regexp.MustCompile(`(?m)^server\.defn_(name|line_number) = .*$`)

// normalizeDefinition hides where the <VirtualHost> is defined: the
// reference Apache reads the site inlined into its own httpd.conf
// (internal/apachetest), preview Includes site.conf, so the file and line
// differ although both name the same section.
func normalizeDefinition(b []byte, _ *apachetest.Server) []byte {
	return definitionLines.ReplaceAll(b, []byte("server.defn_$1 = (where the harness put the site)"))
}

var mainServerName = regexp.MustCompile(`(?m)^(apache\.)?main_server\.server_hostname = .*$`)

// normalizeMainServerName hides the main server's ServerName: each harness
// writes it in its own server configuration around the site (apachetest and
// preview), which the daemon, reading the site's file, does not see.
func normalizeMainServerName(b []byte, _ *apachetest.Server) []byte {
	return mainServerName.ReplaceAll(b, []byte("${1}main_server.server_hostname = (the harness's ServerName)"))
}

var keepalivesLine = regexp.MustCompile(`(?m)^keepalives = \d+$`)

// normalizeKeepalives hides conn.keepalives, the number of requests the
// client's connection to Apache carried before: FastCGI does not tell it
// (docs/compat.md).
func normalizeKeepalives(b []byte, _ *apachetest.Server) []byte {
	return keepalivesLine.ReplaceAll(b, []byte("keepalives = (requests on the client's connection)"))
}

var importFrame = regexp.MustCompile(`(?m)^  File &quot;(&lt;frozen importlib\._bootstrap(_external)?&gt;|[^\n]*/importlib/__init__\.py)&quot;, line \d+, in \w+\n(    .*\n)*\n`)

// normalizeImportFrames reduces the frames of Python's import machinery in
// a PythonDebug page away: mod_python imports a handler module with
// importlib.import_module, whose frames show; mpgate's importer shows none
// (docs/compat.md).
func normalizeImportFrames(b []byte, _ *apachetest.Server) []byte {
	return importFrame.ReplaceAll(b, nil)
}

var mpmQueryLine = regexp.MustCompile(`(?m)^apache\.mpm_query\(AP_MPMQ_IS_THREADED\) = \d+$`)

// normalizeMPMQuery hides apache.mpm_query(AP_MPMQ_IS_THREADED): mpgate's
// workers answer as prefork children (one request at a time, no threads)
// whatever Apache's MPM (docs/compat.md).
func normalizeMPMQuery(b []byte, _ *apachetest.Server) []byte {
	return mpmQueryLine.ReplaceAll(b, []byte("apache.mpm_query(AP_MPMQ_IS_THREADED) = (the MPM)"))
}

// TestCoreAPI sends every upstreamCases and apiCases request to real
// mod_python 3.5 and to mpgate (mod_fcgid and mod_proxy_fcgi) serving
// testdata/coreapi, and compares status, headers, bodies and error logs.
func TestCoreAPI(t *testing.T) {
	_, conf, ref := referenceSite(t, "testdata/coreapi")
	cases := append(append([]apiCase(nil), upstreamCases...), apiCases...)
	for _, via := range []string{"fcgid", "proxy"} {
		t.Run(via, func(t *testing.T) {
			got, run := previewRun(t, conf, via)
			gotLog := filepath.Join(run, "logs", "error.log")
			for _, c := range cases {
				t.Run(c.title(), func(t *testing.T) { runCase(t, ref, got, gotLog, via, c) })
			}
			// SimpleTestCase.test_apache_log_error, in test_internal (LogLevel
			// debug, as mod_python's harness) and in the default host (the
			// site's LogLevel info).
			t.Run("log levels (test_internal)", func(t *testing.T) {
				// conn.log_error obeys the LogLevel of the host the
				// connection came to (the default one: info).
				compareLogLevels(t, ref, got, gotLog, "test_internal", "/tests.py?log_error", "coreapi-",
					map[string]string{"apache": "", "server": "", "req": "", "noserver": "", "conn": ""})
			})
			t.Run("log levels (LogLevel info)", func(t *testing.T) {
				compareLogLevels(t, ref, got, gotLog, "", "/api/log_levels", "coreapi-default-",
					map[string]string{"apache": "", "server": "", "conn": "", "req": "", "noserver": ""})
			})
			t.Run("log levels (<Directory> LogLevel debug)", func(t *testing.T) {
				compareLogLevels(t, ref, got, gotLog, "", "/api/loud/log_levels", "coreapi-loud-",
					map[string]string{"apache": "", "server": "", "conn": "", "req": "", "noserver": ""})
			})
		})
	}
}

// referenceSite stages the differential site in src (site.conf and what it names as @SITE@/...)
// and starts real mod_python 3.5 serving it; it returns the staged directory, its site.conf and
// the reference server.
func referenceSite(t *testing.T, src string) (dir, conf string, ref *apachetest.Server) {
	t.Helper()
	dir, conf = stageSiteFrom(t, src)
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	return dir, conf, apachetest.ModPython(t, string(b), nil)
}

// runCase compares c's answers from ref and from got (mpgate through the transport via, whose
// error log is gotLog), and waits for c's log lines in both servers' error logs.
func runCase(t *testing.T, ref, got *apachetest.Server, gotLog, via string, c apiCase) {
	t.Helper()
	if c.gapVia != "" && c.gapVia != via {
		c.gap = ""
	}
	compareCase(t, ref, got, c)
	for _, want := range c.logs {
		ref.WaitLog(t, want, 10*time.Second)
		waitFileContains(t, gotLog, want, 10*time.Second)
	}
}

// compareCase sends c to both servers and compares the answers.
func compareCase(t *testing.T, ref, got *apachetest.Server, c apiCase) {
	t.Helper()
	var req *http.Request
	var err error
	if c.body != "" || c.method == "POST" || c.method == "PUT" {
		req, err = http.NewRequest(c.method, c.path, strings.NewReader(c.body))
	} else {
		req, err = http.NewRequest(c.method, c.path, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	req.Host = c.host
	req.Close = c.close
	for _, h := range c.headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	norm := append([]normFunc{normalizeTraceback}, c.norm...)
	if c.gap == "" {
		apachetest.Compare(t, ref, got, req, norm...)
		return
	}
	rec := &gapRecorder{TB: t}
	apachetest.Compare(rec, ref, got, req, norm...)
	checkGap(t, c.gap, rec.errs)
}

// gapRecorder is a testing.TB that records Compare's differences instead of
// failing the test (fatal errors still fail it).
type gapRecorder struct {
	testing.TB
	errs []string
}

func (r *gapRecorder) Helper() {}

func (r *gapRecorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// checkGap logs the differences of a case marked with a known gap, and fails
// when there are none: the mark must then go.
func checkGap(t *testing.T, gap string, errs []string) {
	t.Helper()
	if len(errs) == 0 {
		t.Errorf("no difference any more: remove the known-gap mark (%s)", gap)
		return
	}
	t.Logf("known gap (%s):\n%s", gap, strings.Join(errs, "\n"))
}

// waitFileContains waits until the file at path contains substr.
func waitFileContains(t *testing.T, path, substr string, timeout time.Duration) {
	t.Helper()
	waitFile(t, path, timeout, func(b []byte) (bool, bool, string) {
		return bytes.Contains(b, []byte(substr)), false, fmt.Sprintf("has no %q", substr)
	})
}

// waitFile polls the file at path until check(its content) says ok; it
// fails with check's description of the content (and the file's tail) once
// check says the content never will be right (hopeless), or after timeout.
func waitFile(t *testing.T, path string, timeout time.Duration, check func(b []byte) (ok, hopeless bool, why string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		b, _ := os.ReadFile(path)
		ok, hopeless, why := check(b)
		if ok {
			return
		}
		if hopeless || time.Now().After(deadline) {
			t.Fatalf("%s %s (waited up to %v); its tail:\n%s", path, why, timeout, tailLines(string(b), 40))
		}
		<-tick.C
	}
}

// logLevels are the APLOG_* names, most severe first.
var logLevels = []string{"EMERG", "ALERT", "CRIT", "ERR", "WARNING", "NOTICE", "INFO", "DEBUG"}

// compareLogLevels asks host to log one line per level through each logger
// of who (apache.log_error with and without a server, server.log_error,
// conn.log_error, req.log_error: lines "<prefix><who>-x<LEVEL>x") and
// compares which of them reach each server's error log. who maps each logger
// to a known gap ("" for none), as apiCase.gap.
func compareLogLevels(t *testing.T, ref, got *apachetest.Server, gotLog, host, path, prefix string, who map[string]string) {
	req, err := http.NewRequest("GET", path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	ref.Do(t, req)
	got.Do(t, req)
	names := slices.Sorted(maps.Keys(who))
	for _, w := range names {
		// EMERG is written at every LogLevel: wait for it, then for the rest.
		ref.WaitLog(t, prefix+w+"-xEMERGx", 10*time.Second)
		waitFileContains(t, gotLog, prefix+w+"-xEMERGx", 10*time.Second)
	}
	// Apache writes a request's log lines (mod_python's, and the STDERR
	// records that precede END_REQUEST) before the response completes, so
	// once the EMERG lines are there, the others of the request are too.
	refText := ref.ErrorLog()
	gotText, _ := os.ReadFile(gotLog)
	for _, w := range names {
		var want, have []string
		for _, l := range logLevels {
			m := prefix + w + "-x" + l + "x"
			if strings.Contains(refText, m) {
				want = append(want, l)
			}
			if bytes.Contains(gotText, []byte(m)) {
				have = append(have, l)
			}
		}
		var diffs []string
		if !slices.Equal(want, have) {
			diffs = append(diffs, fmt.Sprintf("%s log_error levels in the error log: got %v, want %v", w, have, want))
		}
		if who[w] != "" {
			checkGap(t, who[w], diffs)
			continue
		}
		for _, d := range diffs {
			t.Error(d)
		}
	}
}
