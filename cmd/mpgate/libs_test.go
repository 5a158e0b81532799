package main

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/mpgate/mpgate/internal/apachetest"
)

// This file is the differential suite of the Cookie and Session libraries and of
// req.internal_redirect: mod_python 3.5's own per-request tests of them (test_Cookie_Cookie,
// test_Cookie_MarshalCookie, test_Session_Session, test_Session_illegal_sid,
// test_req_internal_redirect) ported to testdata/libs with the configuration test.py gives
// them, and mpgate's own cases (htdocs/libs.py) in the default host, sent to real mod_python
// and to mpgate behind mod_fcgid and mod_proxy_fcgi.

// sessionID matches a session id in a cookie (pysid, or the site's libsid): each server makes
// its own.
var sessionID = regexp.MustCompile(`((?:pysid|libsid)=)[0-9a-f]{32}`)

func normalizeSessionID(b []byte, _ *apachetest.Server) []byte {
	return sessionID.ReplaceAll(b, []byte("${1}@SID@"))
}

// gapRedirectType is a limit of FastCGI (docs/compat.md): a response without Content-Type gets
// the type Apache gave the requested URL (tests.py: text/x-python), while mod_python sends the
// redirect target's none (/test.int).
const gapRedirectType = "Apache gives a FastCGI response without Content-Type the type of the URL it asked for"

// libsCases are single requests, compared as they are.
var libsCases = []apiCase{
	{method: "GET", path: "/tests.py", host: "test_req_internal_redirect", gap: gapRedirectType},
	{name: "test_Cookie_Cookie", method: "GET", path: "/testz.py", host: "test_Cookie_Cookie",
		headers: []string{"Cookie: spam=foo; path=blah;;eggs=bar;", "Cookie: bar=foo"}},
	{name: "test_Cookie_MarshalCookie", method: "GET", path: "/testz.py", host: "test_Cookie_MarshalCookie",
		headers: []string{"Cookie: eggs=d049b2b61adb6a1d895646719a3dc30bcwQAAABzcGFt"}},
	{name: "test_Cookie_MarshalCookie long", method: "GET", path: "/testz.py", host: "test_Cookie_MarshalCookie",
		headers: []string{"Cookie: test=859690207856ec75fc641a7566894e40c1QAAAB0aGlzIGlzIGEgdmVyeSBsb25nIHZhbHVlLCBsb25nIGxvbmcgbG9uZyBsb25nIGxvbmcgc28gbG9uZyBidXQgd2UnbGwgZmluaXNoIGl0IHNvb24="}},
	// test_Session_illegal_sid: test.py gives it the ServerName of test_Session_Session, so it
	// runs in that host.
	{name: "test_Session_illegal_sid", method: "GET", path: "/tests.py", host: "test_Session_Session",
		headers: []string{"Cookie: pysid=/path/traversal/attack/bad; path=/"}, norm: []normFunc{normalizeSessionID}},
	{name: "test_Session_illegal_sid long", method: "GET", path: "/tests.py", host: "test_Session_Session",
		headers: []string{"Cookie: pysid=" + strings.Repeat("0123456789abcdef", 8)}, norm: []normFunc{normalizeSessionID}},

	get("", "/cookie_attrs"),
	get("", "/cookie_add_value"),
	get("", "/cookie_bad_expires"),
	get("", "/cookie_bad_attr"),
	get("", "/cookie_headers"),
	get("", "/cookie_none"),
	{method: "GET", path: "/cookie_parse", headers: []string{`Cookie: a=1; $Version=1; b="quoted; value"; c=x=y; path=/p; d=; e`}},
	{method: "GET", path: "/cookie_parse", headers: []string{"Cookie: one=1; one=2; two=%41%20"}},
	{method: "GET", path: "/cookie_get", headers: []string{"Cookie: one=1; two=2", "Cookie: three=3"}},
	{method: "GET", path: "/cookie_class", headers: []string{"Cookie: k=v; l=w"}},
	{method: "GET", path: "/session_explicit_bad_sid", norm: []normFunc{normalizeSessionID}},
	{method: "GET", path: "/session_view", headers: []string{"Cookie: libsid=not-a-session-id"}, norm: []normFunc{normalizeSessionID}},
	{method: "GET", path: "/session_view", headers: []string{"Cookie: libsid=0123456789abcdef0123456789abcdef"}, norm: []normFunc{normalizeSessionID}},
	{method: "GET", path: "/nosuchcase"},
}

// sessionStep is one request of a session sequence: sent with the cookie the same server set
// in the sequence so far (each server has its own session ids), unless fresh.
type sessionStep struct {
	host, path string
	fresh      bool // send no cookie
}

// sessionSeqs are sequences of requests within one session.
var sessionSeqs = map[string][]sessionStep{
	"test_Session_Session": {{host: "test_Session_Session", path: "/tests.py"}, {host: "test_Session_Session", path: "/tests.py"}},
	"counter": {{path: "/session_counter"}, {path: "/session_counter"}, {path: "/session_counter"},
		{path: "/session_view"}, {path: "/session_counter", fresh: true}},
	"invalidate": {{path: "/session_counter"}, {path: "/session_invalidate"}, {path: "/session_view"}},
	"methods":    {{path: "/session_methods"}, {path: "/session_methods"}},
	"delete":     {{path: "/session_counter"}, {path: "/session_delete"}, {path: "/session_view"}},
}

// runSessionSeq sends steps to ref and got, each keeping the session cookie it set, and
// compares each pair of answers.
func runSessionSeq(t *testing.T, ref, got *apachetest.Server, steps []sessionStep) {
	cookies := map[*apachetest.Server]string{}
	send := func(s *apachetest.Server, st sessionStep) *apachetest.Response {
		req, err := http.NewRequest("GET", st.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = st.host
		if c := cookies[s]; c != "" && !st.fresh {
			req.Header.Set("Cookie", c)
		}
		r := s.Do(t, req)
		for _, sc := range r.Header.Values("Set-Cookie") {
			// The cookie's name=value, as a browser sends it back.
			nv, _, _ := strings.Cut(sc, ";")
			cookies[s] = nv
		}
		return r
	}
	for i, st := range steps {
		want, have := send(ref, st), send(got, st)
		apachetest.CompareResponses(t, ref, got, fmt.Sprintf("step %d GET %s", i+1, st.path), want, have,
			normalizeTraceback, normalizeSessionID)
	}
}

// TestLibs sends libsCases and sessionSeqs to real mod_python 3.5 and to mpgate (mod_fcgid and
// mod_proxy_fcgi) serving testdata/libs.
func TestLibs(t *testing.T) {
	_, conf, ref := referenceSite(t, "testdata/libs")
	for _, via := range []string{"fcgid", "proxy"} {
		t.Run(via, func(t *testing.T) {
			got := preview(t, conf, via)
			for _, c := range libsCases {
				t.Run(c.title(), func(t *testing.T) { compareCase(t, ref, got, c) })
			}
			for name, steps := range sessionSeqs {
				t.Run("session "+name, func(t *testing.T) { runSessionSeq(t, ref, got, steps) })
			}
		})
	}
}
