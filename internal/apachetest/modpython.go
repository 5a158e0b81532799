// This file is the differential referee: real mod_python 3.5 as the reference server, and Compare,
// which reports every difference a client could see between two servers' answers.

package apachetest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// ModPython starts real mod_python 3.5 (Debian's libapache2-mod-python, Python 3) behind a private
// Apache serving a site: siteConf is the site's mod_python configuration (placeholders as in
// Start, e.g. "<Directory @DOCROOT@/mp> SetHandler mod_python ..."), files its handler files under
// DocRoot. It is Start with the python module plus the modules siteConf's directives belong to
// (see directiveModules), so a site needs no LoadModule lines.
func ModPython(t testing.TB, siteConf string, files map[string]string) *Server {
	t.Helper()
	return Start(t, Options{
		Modules: append([]string{"python"}, modulesFor(siteConf)...),
		Config:  siteConf,
		Files:   files,
	})
}

// directiveModules maps a directive (lower case) to the module that implements it, for the
// directives mod_python sites and mod_python's own test configuration use beyond the base modules.
// A module is loaded only for its own directives: AuthType Basic alone loads authn_core (which
// defines AuthType), not auth_basic, so that a PythonAuthenHandler, not mod_auth_basic, checks the
// password; AuthBasicProvider brings auth_basic in.
var directiveModules = map[string]string{
	"authtype":              "authn_core",
	"authname":              "authn_core",
	"authbasicprovider":     "auth_basic",
	"authbasicfake":         "auth_basic",
	"authuserfile":          "authn_file",
	"authgroupfile":         "authz_groupfile",
	"authdigestprovider":    "auth_digest",
	"rewriteengine":         "rewrite",
	"rewriterule":           "rewrite",
	"rewritecond":           "rewrite",
	"rewritebase":           "rewrite",
	"rewritemap":            "rewrite",
	"rewriteoptions":        "rewrite",
	"scriptalias":           "cgid",
	"scriptaliasmatch":      "cgid",
	"action":                "actions",
	"script":                "actions",
	"expiresactive":         "expires",
	"expiresbytype":         "expires",
	"expiresdefault":        "expires",
	"addoutputfilterbytype": "filter",
}

// requireModules maps a Require provider to the module that registers it.
var requireModules = map[string]string{
	"valid-user": "authz_user",
	"user":       "authz_user",
	"group":      "authz_groupfile",
}

// modulesFor returns the modules conf's directives belong to, beyond the base set.
func modulesFor(conf string) []string {
	var mods []string
	for line := range strings.Lines(conf) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		name := strings.ToLower(f[0])
		if m, ok := directiveModules[name]; ok && !slices.Contains(mods, m) {
			mods = append(mods, m)
		}
		if name == "require" {
			if len(f) > 2 && strings.EqualFold(f[1], "not") {
				f = f[1:]
			}
			if len(f) > 1 {
				if m, ok := requireModules[strings.ToLower(f[1])]; ok && !slices.Contains(mods, m) {
					mods = append(mods, m)
				}
			}
		}
	}
	return mods
}

// ignoredHeaders are the response headers Compare leaves out, each with the reason it differs
// between two correct servers.
var ignoredHeaders = map[string]string{
	"Date": "the time the response was made",
	"Server": "mod_python adds its own product token (\"mod_python/3.5.0 Python/3.x\"), which an Apache " +
		"without mod_python does not send",
	"Keep-Alive": "\"timeout=5, max=N\": N counts the requests left on the connection, which depends on how the " +
		"client reused it, not on the handler",
	"Connection": "Apache decides to close or keep the connection from the client's request and the server's " +
		"state (graceful restarts, MaxKeepAliveRequests), not from the handler",
	"Etag": "made from a file's metadata on each server's own disk (FileETag: mtime and size, inode if " +
		"configured); files a test writes after Start differ in mtime",
}

// Compare sends req to ref (the reference, usually ModPython) and to got, and fails the test for
// every difference: status, protocol, each header but ignoredHeaders (Content-Length only by
// presence, since normalising can change a body's length), and body. Before comparing, each body
// and each header value is normalised: each server's Root (so DocRoot too) becomes "@ROOT@" and its
// port, where it stands alone as a number, becomes "@PORT@", then norm is applied in order.
// req's URL may be a bare path; its body is read once and sent to both servers.
func Compare(t testing.TB, ref, got *Server, req *http.Request, norm ...func([]byte, *Server) []byte) {
	t.Helper()
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			t.Fatalf("apachetest: Compare %s %s: read request body: %v", req.Method, req.URL.RequestURI(), err)
		}
		req.Body.Close()
	}
	send := func(s *Server) *Response {
		r := req.Clone(req.Context())
		if req.Body != nil && req.Body != http.NoBody {
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		return s.Do(t, r)
	}
	CompareResponses(t, ref, got, req.Method+" "+req.URL.RequestURI(), send(ref), send(got), norm...)
}

// CompareResponses is Compare for responses the caller obtained itself: want from ref, have
// from got, to requests that differ between the servers only where they must (a session cookie
// each server set before, say). what names the request in the failure.
func CompareResponses(t testing.TB, ref, got *Server, what string, want, have *Response, norm ...func([]byte, *Server) []byte) {
	t.Helper()
	norm = append([]func([]byte, *Server) []byte{replaceRoot, replacePort}, norm...)
	normalize := func(b []byte, s *Server) []byte {
		for _, f := range norm {
			b = f(b, s)
		}
		return b
	}
	var diffs []string
	if want.Status != have.Status {
		diffs = append(diffs, fmt.Sprintf("status: got %d, want %d", have.Status, want.Status))
	}
	if want.Proto != have.Proto {
		diffs = append(diffs, fmt.Sprintf("protocol: got %s, want %s", have.Proto, want.Proto))
	}
	diffs = append(diffs, headerDiffs(normalizeHeader(want.Header, ref, normalize), normalizeHeader(have.Header, got, normalize))...)
	if wb, hb := normalize(want.Body, ref), normalize(have.Body, got); !bytes.Equal(wb, hb) {
		diffs = append(diffs, "body: "+bodyDiff(hb, wb))
	}
	if len(diffs) > 0 {
		t.Errorf("Compare %s: %s (got) differs from %s (want):\n  %s",
			what, got.URL, ref.URL, strings.Join(diffs, "\n  "))
	}
}

// normalizeHeader returns h without ignoredHeaders, Content-Length reduced to its presence, and
// every value normalised.
func normalizeHeader(h http.Header, s *Server, normalize func([]byte, *Server) []byte) http.Header {
	out := make(http.Header, len(h))
	for k, vs := range h {
		if _, ok := ignoredHeaders[k]; ok {
			continue
		}
		if k == "Content-Length" {
			out[k] = []string{"(present)"}
			continue
		}
		for _, v := range vs {
			out[k] = append(out[k], string(normalize([]byte(v), s)))
		}
	}
	return out
}

// headerDiffs describes how have differs from want, one header per line, in name order.
func headerDiffs(want, have http.Header) []string {
	var names []string
	for k := range want {
		names = append(names, k)
	}
	for k := range have {
		if _, ok := want[k]; !ok {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	var diffs []string
	for _, k := range names {
		w, h := want[k], have[k]
		switch {
		case h == nil:
			diffs = append(diffs, fmt.Sprintf("header %s: missing, want %q", k, w))
		case w == nil:
			diffs = append(diffs, fmt.Sprintf("header %s: got %q, want none", k, h))
		case !slices.Equal(w, h):
			diffs = append(diffs, fmt.Sprintf("header %s: got %q, want %q", k, h, w))
		}
	}
	return diffs
}

// bodyDiff describes where have first differs from want, with both bodies when they are short.
func bodyDiff(have, want []byte) string {
	i := 0
	for i < len(have) && i < len(want) && have[i] == want[i] {
		i++
	}
	const ctx, short = 40, 2048
	if len(have) <= short && len(want) <= short {
		return fmt.Sprintf("differs at byte %d:\n    got  %q\n    want %q", i, have, want)
	}
	from := max(i-ctx, 0)
	return fmt.Sprintf("differs at byte %d (got %d bytes, want %d); from byte %d:\n    got  %q\n    want %q",
		i, len(have), len(want), from, have[from:min(i+ctx, len(have))], want[from:min(i+ctx, len(want))])
}

// replaceRoot replaces s.Root by "@ROOT@".
func replaceRoot(b []byte, s *Server) []byte {
	if s.Root == "" {
		return b
	}
	return bytes.ReplaceAll(b, []byte(s.Root), []byte("@ROOT@"))
}

// replacePort replaces s.Port by "@PORT@" where it is not part of a longer number.
func replacePort(b []byte, s *Server) []byte {
	port := []byte(strconv.Itoa(s.Port))
	digit := func(i int) bool { return i >= 0 && i < len(b) && '0' <= b[i] && b[i] <= '9' }
	var out []byte
	last := 0
	for i := 0; ; {
		j := bytes.Index(b[i:], port)
		if j < 0 {
			break
		}
		j += i
		end := j + len(port)
		if !digit(j-1) && !digit(end) {
			out = append(append(out, b[last:j]...), "@PORT@"...)
			last = end
		}
		i = j + 1
	}
	return append(out, b[last:]...)
}
