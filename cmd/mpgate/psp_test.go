package main

import (
	"flag"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mpgate/mpgate/internal/apachetest"
)

// This file is the differential suite of mod_python.psp (issue 5): the PSP
// parser against Debian's C module (TestPSPParser), and PSP pages served by
// real mod_python 3.5 and by mpgate behind mod_fcgid and mod_proxy_fcgi
// (TestPSP): mod_python's own PSP tests (grisha/mod_python test/test.py:
// test_psphandler, test_psp_parser, test_psp_error) with their virtual
// hosts, then mpgate's own pages in testdata/psp.

var pspUpdate = flag.Bool("psp-update", false, "rewrite dispatch/pyrt/tests/pspcorpus/golden.json from Debian's _psp module")

// debianPSP is the C parser of Debian's libapache2-mod-python.
const debianPSP = "/usr/lib/python3/dist-packages/mod_python/_psp.cpython-311-x86_64-linux-gnu.so"

// pspRandomInputs is how many random sources the parser check feeds both
// parsers through parsestring() (and half as many page sets through parse()).
const pspRandomInputs = 4000

// TestPSPParser runs testdata/pspcorpus/check.py: mpgate's _psp.py and
// Debian's _psp give the same code (or the same exceptions) for the
// hand-written corpus (dispatch/pyrt/tests/pspcorpus, whose golden.json must
// be current) and for random inputs, through parsestring() and parse() with
// includes.
func TestPSPParser(t *testing.T) {
	if _, err := os.Stat(debianPSP); err != nil {
		// Starting mod_python installs Debian's libapache2-mod-python.
		apachetest.ModPython(t, "", nil).Stop()
		if _, err := os.Stat(debianPSP); err != nil {
			t.Fatalf("Debian's PSP parser: %v", err)
		}
	}
	args := []string{"-B", "testdata/pspcorpus/check.py",
		"--real", debianPSP,
		"--ours", "../../dispatch/pyrt/mod_python/_psp.py",
		"--corpus", "../../dispatch/pyrt/tests/pspcorpus",
		"--random", strconv.Itoa(pspRandomInputs), "--seed", "1"}
	if *pspUpdate {
		args = append(args, "--update")
	}
	out, err := exec.Command("/usr/bin/python3", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("check.py: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// pspSID matches a session id.
var pspSID = regexp.MustCompile(`[0-9a-f]{32}`)

// normalizeSID replaces session ids (in Set-Cookie) by "@SID@": each server
// makes its own.
func normalizeSID(b []byte, _ *apachetest.Server) []byte {
	return pspSID.ReplaceAll(b, []byte("@SID@"))
}

var pspFrame = regexp.MustCompile(`File &quot;[^&\n]*/mod_python/psp\.py&quot;, line \d+, in `)

// normalizePSPFrames hides where mod_python/psp.py is and the line numbers
// of its frames in a PythonDebug traceback (Debian's file and mpgate's
// differ in both); the function names and the source lines shown stay.
func normalizePSPFrames(b []byte, _ *apachetest.Server) []byte {
	return pspFrame.ReplaceAll(b, []byte("File &quot;(mod_python/psp.py)&quot;, line (n), in "))
}

var pspStringFrame = regexp.MustCompile(`(File &quot;__psp__&quot;, line \d+, in &lt;module&gt;\n)(    .*\n)*`)

// normalizeStringPageSource drops the source lines under the frames of a
// page compiled from a string (File "__psp__"): mod_python shows the line
// of its own psp.py with the page's line number, mpgate none (compat line
// in psp.py's docstring).
func normalizeStringPageSource(b []byte, _ *apachetest.Server) []byte {
	return pspStringFrame.ReplaceAll(b, []byte("$1"))
}

// pspNorm are the normalisers of every PSP case.
var pspNorm = []normFunc{normalizePSPFrames, normalizeStringPageSource, normalizeSID}

func pspGet(host, path string) apiCase {
	return apiCase{method: "GET", path: path, host: host, norm: pspNorm}
}

// pspPost is a POST of an urlencoded form. (Forms come in request bodies:
// Debian's mod_python garbles query strings, docs/compat.md.)
func pspPost(path, body string) apiCase {
	return apiCase{method: "POST", path: path, body: body, norm: pspNorm,
		headers: []string{"Content-Type: application/x-www-form-urlencoded"}}
}

// pspUpstreamCases port mod_python's PSP tests, each in its own virtual host.
var pspUpstreamCases = []apiCase{
	pspGet("test_psphandler", "/psptest.psp"),
	pspGet("test_psp_parser", "/psp_parser.psp"),
	pspGet("test_psp_error", "/psptest_main.psp"),
}

// pspCases are mpgate's own pages (testdata/psp/htdocs) in the default host.
var pspCases = []apiCase{
	pspGet("", "/loop.psp"),
	pspGet("", "/include.psp"),
	pspGet("", "/include_missing.psp"),
	pspGet("", "/include_missing_twice.psp"),
	pspGet("", "/comment.psp"),
	pspGet("", "/expr.psp"),
	pspGet("", "/form.psp"),
	pspPost("/form.psp", "b=2&a=x&a=&c=y&empty=&u=%C3%A9"),
	pspPost("/apply_data.psp", "a=1&c=3"),
	pspPost("/apply_data.psp", "a=1&b=2&c=3&d=4"),
	pspGet("", "/apply_data.psp"),
	pspGet("", "/errpage.psp"),
	pspGet("", "/errpage_root.psp"),
	pspGet("", "/errpage_redirect.psp"),
	pspGet("", "/raise.psp"),
	pspGet("", "/nodebug/raise.psp"),
	pspGet("", "/syntax.psp"),
	pspGet("", "/nodebug/syntax.psp"),
	pspGet("", "/loop.psp_"),
	pspGet("", "/include.psp_"),
	pspGet("", "/syntax.psp_"),
	pspGet("", "/crlf.psp_"),
	pspGet("", "/nosuch.psp_"),
	pspGet("", "/nodebug/loop.psp"),
	pspGet("", "/nodebug/loop.psp_"),
	pspGet("", "/missing.psp"),
	pspGet("", "/nodebug/missing.psp"),
	pspGet("", "/utf8.psp"),
	pspGet("", "/latin1.psp"),
	pspGet("", "/crlf.psp"),
	pspGet("", "/empty.psp"),
	pspGet("", "/globals.psp"),
	pspGet("", "/session.psp"),
	pspGet("", "/session_err.psp"),
	pspGet("", "/indent_colon.psp"),
	pspGet("", "/text_escapes.psp"),
	pspGet("", "/percent.psp"),
	pspGet("", "/unterminated.psp"),
	{method: "HEAD", path: "/loop.psp", norm: pspNorm},
	pspGet("", "/py/x?file"),
	pspGet("", "/py/x?abs"),
	pspGet("", "/py/x?string"),
	pspGet("", "/py/x?str_string"),
	pspGet("", "/py/x?both"),
	pspGet("", "/py/x?missing"),
	pspGet("", "/py/x?str"),
	pspGet("", "/py/x?parse"),
	pspGet("", "/py/x?display"),
	pspGet("", "/py/x?flush"),
	pspGet("", "/py/x?session"),
	pspGet("", "/py/x?error_raise"),
}

// TestPSP sends every pspUpstreamCases and pspCases request to real
// mod_python 3.5 and to mpgate (mod_fcgid and mod_proxy_fcgi) serving
// testdata/psp and compares the answers; then checks what mpgate does on
// purpose differently (pspDeliberate, reloading of includes).
func TestPSP(t *testing.T) {
	dir, conf, ref := referenceSite(t, "testdata/psp")
	cases := append(append([]apiCase(nil), pspUpstreamCases...), pspCases...)
	for _, via := range []string{"fcgid", "proxy"} {
		t.Run(via, func(t *testing.T) {
			got, _ := previewRun(t, conf, via)
			for _, c := range cases {
				t.Run(c.title(), func(t *testing.T) {
					compareCase(t, ref, got, c)
				})
			}
			t.Run("session continued", func(t *testing.T) { pspSessionContinued(t, ref, got) })
			t.Run("deliberate differences", func(t *testing.T) { pspDeliberateCases(t, ref, got, dir) })
			t.Run("reload", func(t *testing.T) { pspReload(t, ref, got, dir, via) })
		})
	}
}

// pspSessionContinued requests /session.psp twice on each server, the
// second time with the cookie that server set: the page's session is saved
// after the page, and found again.
func pspSessionContinued(t *testing.T, ref, got *apachetest.Server) {
	var want, have *apachetest.Response
	for _, step := range []struct{ body string }{{"n=1 new=True"}, {"n=2 new=False"}} {
		var hdr []string
		if want != nil {
			cookie := func(r *apachetest.Response) string {
				c, _, _ := strings.Cut(r.Header.Get("Set-Cookie"), ";")
				return "Cookie: " + c
			}
			hdr = []string{cookie(want)}
			want = ref.Get(t, "/session.psp", hdr...)
			hdr = []string{cookie(have)}
			have = got.Get(t, "/session.psp", hdr...)
		} else {
			want, have = ref.Get(t, "/session.psp"), got.Get(t, "/session.psp")
		}
		apachetest.CompareResponses(t, ref, got, "GET /session.psp", want, have, pspNorm...)
		if !strings.HasPrefix(string(have.Body), step.body) {
			t.Errorf("mpgate: GET /session.psp = %q, want %s...", have.Body, step.body)
		}
		if step.body == "n=1 new=True" && have.Header.Get("Set-Cookie") == "" {
			t.Fatalf("mpgate: GET /session.psp set no cookie")
		}
	}
}

// pspDeliberate are the pages mpgate serves on purpose differently from
// mod_python 3.5, each with the compat line it stands for: refBody is what
// mod_python's answer contains (with status refStatus; 0: mod_python is not
// asked, as it crashes or hangs), status, location and body mpgate's.
var pspDeliberate = []struct {
	path      string
	refStatus int
	refBody   string
	status    int
	location  string
	body      string
	compat    string
}{
	{"/redirect.psp", http.StatusFound, "AssertionError", http.StatusFound, "/elsewhere.html",
		"<p>The document has moved <a href=\"/elsewhere.html\">here</a></p>\n",
		"SERVER_RETURN from a page reaches the dispatcher (grisha/mod_python#55)"},
	{"/server_return.psp", http.StatusInternalServerError, "AssertionError", http.StatusForbidden, "", "",
		"SERVER_RETURN from a page reaches the dispatcher (grisha/mod_python#55)"},
	{"/notfound_inc.psp", http.StatusInternalServerError, "AssertionError", http.StatusNotFound, "", "",
		"SERVER_RETURN(404) of a missing PSP() made in a page reaches the dispatcher"},
	{"/utf8.psp_", http.StatusInternalServerError, "&#x27;ascii&#x27; codec can&#x27;t decode", http.StatusOK, "",
		"<font color=green>&lt;p&gt;caf\u00e9&nbsp;\u2013&nbsp;&lt;%=",
		"the source view reads the page as UTF-8"},
	{"/dbmcache/page.psp", http.StatusInternalServerError, "NameError: name &#x27;anydbm&#x27; is not defined",
		http.StatusOK, "", "cached 2\n", "the dbm cache option is ignored"},
	{"/precompiled.psp", http.StatusInternalServerError, "TypeError", http.StatusOK, "", "compiled 4\n",
		"a precompiled .psc file is ignored"},
	{"/include_abs.psp", 0, "", http.StatusOK, "", "abs: <footer>end</footer>.",
		"an absolute include works (mod_python's parser frees a pointer it did not allocate: the child segfaults)"},
	{"/py/x?session_own", 0, "", http.StatusOK, "", "page sees handler\n\nafter: ['h', 'p'] locked=True\n",
		"a page uses the session its handler made (mod_python deadlocks on the second lock)"},
}

// pspDeliberateCases checks pspDeliberate. dir is the staged site.
func pspDeliberateCases(t *testing.T, ref, got *apachetest.Server, dir string) {
	// 3.5 loads a precompiled page newer than the page itself
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "htdocs", "precompiled.psc"), later, later); err != nil {
		t.Fatal(err)
	}
	for _, c := range pspDeliberate {
		if c.refStatus != 0 {
			want := ref.Get(t, c.path)
			if want.Status != c.refStatus || !strings.Contains(string(want.Body), c.refBody) {
				t.Errorf("mod_python: GET %s = %d %q, want %d with %q (%s)", c.path, want.Status, want.Body, c.refStatus, c.refBody, c.compat)
			}
		}
		have := got.Get(t, c.path)
		if have.Status != c.status || have.Header.Get("Location") != c.location || !strings.Contains(string(have.Body), c.body) {
			t.Errorf("mpgate: GET %s = %d Location %q %q, want %d Location %q with %q (%s)", c.path, have.Status,
				have.Header.Get("Location"), have.Body, c.status, c.location, c.body, c.compat)
		}
		if strings.Contains(string(have.Body), "Traceback") {
			t.Errorf("mpgate: GET %s: a traceback in %q", c.path, have.Body)
		}
	}
}

// pspReload changes a page and a file it includes between requests: both
// servers recompile a changed page; mpgate also sees the include change,
// which mod_python 3.5 (checking the page's mtime only) does not.
func pspReload(t *testing.T, ref, got *apachetest.Server, dir, via string) {
	page := filepath.Join(dir, "htdocs", "reload_"+via+".psp")
	inc := filepath.Join(dir, "htdocs", "inc", "reload_"+via+".psp")
	write := func(path, text string, mtime time.Time) {
		t.Helper()
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		apachetest.Chown(t, path)
	}
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	write(inc, "inc one", base)
	write(page, `page one <%@ include file="inc/reload_`+via+`.psp" %>`, base)
	path := "/reload_" + via + ".psp"
	expect := func(srv *apachetest.Server, who, want string) {
		t.Helper()
		r := srv.Get(t, path)
		if r.Status != 200 || string(r.Body) != want {
			t.Errorf("%s: GET %s = %d %q, want 200 %q", who, path, r.Status, r.Body, want)
		}
	}
	expect(ref, "mod_python", "page one inc one")
	expect(got, "mpgate", "page one inc one")

	// a new page: same size, new mtime
	write(page, `page two <%@ include file="inc/reload_`+via+`.psp" %>`, base.Add(time.Minute))
	expect(ref, "mod_python", "page two inc one")
	expect(got, "mpgate", "page two inc one")

	// a new include (its page unchanged): only mpgate recompiles. Apache may
	// give the request to a child that never compiled the page, so
	// mod_python is not asked.
	write(inc, "inc two!", base.Add(2*time.Minute))
	expect(got, "mpgate", "page two inc two!")

	// the same size and mtime, another inode (a file replaced by rename)
	tmp := inc + ".new"
	write(tmp, "inc 3 !!", base.Add(2*time.Minute))
	if err := os.Rename(tmp, inc); err != nil {
		t.Fatal(err)
	}
	expect(got, "mpgate", "page two inc 3 !!")
}
