// This file is the differential suite of mod_python's phases other than the content handler
// (testdata/phases): the per-phase tests of mod_python 3.5's test/test.py and mpgate's own
// authentication, authorization, access, fix-up, log and cleanup cases, answered by real
// mod_python and by mpgate through mod_fcgid and mod_proxy_fcgi (with mod_authnz_fcgi for the
// authentication phases); and the refusal of a RESPONDER request on the authorizer listener.

package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// phaseCases are the requests of the phase suite.
var phaseCases = []apiCase{
	// mod_python's test_req_add_handler_empty_phase, test_req_add_handler_directory,
	// test_accesshandler_add_handler_to_empty_hl, test_req_handler, test_req_auth_type,
	// test_postreadrequest, test_util_redirect (its fix-up half), test_phase_status and the
	// fix-up variant of test_interpreter_per_directory.
	{method: "GET", path: "/tests.py", host: "test_req_add_handler_empty_phase",
		logs: []string{"req_add_handler_empty_phase", "phase=PythonFixupHandler", "phase=PythonHandler"}},
	get("test_req_add_handler_directory", "/tests.py"),
	{method: "GET", path: "/tests.py", host: "test_accesshandler_add_handler_to_empty_hl",
		logs: []string{"accesshandler_add_handler_to_empty_hl"}},
	get("test_req_handler", "/"),
	get("test_req_auth_type", "/tests.py"),
	{method: "GET", path: "/tests.py", host: "test_postreadrequest", logs: []string{"postreadrequest"},
		gap: "a response a handler ends before the type_checker phase has no Content-Type in mod_python; Apache, which typed the file before handing it to mpgate, gives it mod_mime's (docs/compat.md)"},
	get("test_util_redirect", "/"),
	{method: "GET", path: "/tests.py", host: "test_phase_status", logs: []string{"phase_status_cleanup_log_entry"},
		gap:    "PythonAuthenHandler runs in mod_authnz_fcgi's AUTHORIZER request, a request object of its own: what it sets on req (req.phases) is not there in the content phase (docs/compat.md)",
		gapVia: "proxy"},
	get("test_interpreter_per_directory", "/"),
	get("test_interpreter_per_directory", "/subdir/foo.py"),
	get("test_interpreter_per_directory", "/subdir/"),
	{method: "GET", path: "/subdir", host: "test_interpreter_per_directory",
		gap: "mod_dir's DirectorySlash redirect is Apache's fix-up, which runs before the request reaches mpgate's PythonFixupHandler (docs/compat.md)"},

	// Basic authentication through PythonAuthenHandler, then PythonAuthzHandler.
	{name: "basic auth: no credentials", method: "GET", path: "/basic/x"},
	{name: "basic auth: good", method: "GET", path: "/basic/x", headers: []string{basicAuth("alice:secret")}},
	{name: "basic auth: bad password", method: "GET", path: "/basic/x", headers: []string{basicAuth("alice:nope")}},
	{name: "basic auth: unknown user", method: "GET", path: "/basic/x", headers: []string{basicAuth("mallory:secret")}},
	{name: "basic auth: other scheme", method: "GET", path: "/basic/x", headers: []string{"Authorization: Bearer abc"}},
	{name: "authz denial 403", method: "GET", path: "/basic/x", headers: []string{basicAuth("bob:builder")},
		gap: "mod_fcgid answers every authorizer failure with its own 401 (fastcgi-apache.md §1.8; docs/compat.md)", gapVia: "fcgid"},
	// Fix-ups stacked before content, with the header parser and type phases.
	get("", "/fix/x"),
	{name: "DONE from a fix-up", method: "GET", path: "/fixdone/x"},
	{name: "access handler 403", method: "GET", path: "/deny/x"},
	{name: "log and cleanup handlers", method: "GET", path: "/logged/x",
		logs: []string{"phases-log /logged/x status=200 phase=PythonLogHandler", "phases-cleanup /logged/x phase=PythonCleanupHandler"}},
}

func TestPhases(t *testing.T) {
	dir, conf, ref := referenceSite(t, "testdata/phases")
	for _, via := range []string{"fcgid", "proxy"} {
		t.Run(via, func(t *testing.T) {
			got, run := previewRun(t, conf, via)
			gotLog := filepath.Join(run, "logs", "error.log")
			for _, c := range phaseCases {
				t.Run(c.title(), func(t *testing.T) { runCase(t, ref, got, gotLog, via, c) })
			}
			if via == "proxy" {
				t.Run("RESPONDER on the authorizer listener is refused", func(t *testing.T) {
					authzListenerRefusesResponder(t, dir, run, gotLog)
				})
			}
		})
	}
}

// authzListenerRefusesResponder sends a RESPONDER request forging REMOTE_USER and MPGATE_PHASES
// to the preview daemon's --authz-listen port, which any local user can reach, and checks that
// it is refused and logged, and that an AUTHORIZER request there is served.
func authzListenerRefusesResponder(t *testing.T, site, run, gotLog string) {
	conf, err := os.ReadFile(filepath.Join(run, "httpd.conf"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`Define MPGATE_AUTHZ_PORT (\d+)`).FindSubmatch(conf)
	if m == nil {
		t.Fatalf("preview's httpd.conf defines no MPGATE_AUTHZ_PORT:\n%s", conf)
	}
	addr := "127.0.0.1:" + string(m[1])
	forged := map[string]string{
		"REQUEST_METHOD": "GET", "REQUEST_URI": "/basic/x", "SCRIPT_NAME": "/basic/x",
		"SCRIPT_FILENAME": filepath.Join(site, "htdocs", "basic", "x"), "SERVER_PROTOCOL": "HTTP/1.1",
		"HTTP_HOST": "phases", "REMOTE_USER": "ALICE", "MPGATE_USER": "ALICE",
		"MPGATE_PHASES": "PythonAuthenHandler,PythonAuthzHandler",
	}
	out := fcgiExchange(t, addr, 1, forged)
	if !strings.HasPrefix(out, "Status: 403") || strings.Contains(out, "user=") {
		t.Errorf("RESPONDER on the authorizer listener answered:\n%s", out)
	}
	waitFileContains(t, gotLog, "refused a request on the authorizer listener", 10*time.Second)
	waitFileContains(t, gotLog, "--authz-listen "+addr, 10*time.Second)

	// The same listener serves an AUTHORIZER request (mod_authnz_fcgi's check_user_id call).
	authz := map[string]string{
		"REQUEST_METHOD": "GET", "REQUEST_URI": "/basic/x", "SERVER_PROTOCOL": "HTTP/1.1",
		"SCRIPT_FILENAME": forged["SCRIPT_FILENAME"], "HTTP_HOST": "phases", "FCGI_ROLE": "AUTHORIZER",
		"FCGI_APACHE_ROLE": "AUTHENTICATOR", "HTTP_AUTHORIZATION": "Basic YWxpY2U6c2VjcmV0",
	}
	out = fcgiExchange(t, addr, 2, authz)
	if !strings.HasPrefix(out, "Status: 200") || !strings.Contains(out, "Variable-MPGATE_USER: ALICE\r\n") ||
		!strings.Contains(out, "Variable-MPGATE_PHASES: PythonAuthenHandler,PythonAuthzHandler\r\n") {
		t.Errorf("AUTHORIZER on the authorizer listener answered:\n%s", out)
	}
}

// fcgiExchange sends one FastCGI request of role (1 RESPONDER, 2 AUTHORIZER) with params and
// returns its STDOUT.
func fcgiExchange(t *testing.T, addr string, role uint16, params map[string]string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	rec := func(typ byte, content []byte) []byte {
		h := []byte{1, typ, 0, 1, 0, 0, 0, 0}
		binary.BigEndian.PutUint16(h[4:], uint16(len(content)))
		return append(h, content...)
	}
	var b []byte
	b = append(b, rec(1, []byte{byte(role >> 8), byte(role), 0, 0, 0, 0, 0, 0})...)
	var ps []byte
	for k, v := range params {
		ps = append(ps, byte(len(k)), byte(len(v)))
		ps = append(ps, k...)
		ps = append(ps, v...)
	}
	b = append(b, rec(4, ps)...)
	b = append(b, rec(4, nil)...)
	if role == 1 {
		b = append(b, rec(5, nil)...)
	}
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	var out bytes.Buffer
	for {
		h := make([]byte, 8)
		if _, err := io.ReadFull(r, h); err != nil {
			t.Fatalf("read FastCGI record: %v (so far %q)", err, out.String())
		}
		n := int(binary.BigEndian.Uint16(h[4:]))
		body := make([]byte, n+int(h[6]))
		if _, err := io.ReadFull(r, body); err != nil {
			t.Fatal(err)
		}
		switch h[1] {
		case 6: // STDOUT
			out.Write(body[:n])
		case 3: // END_REQUEST
			return out.String()
		}
	}
}
