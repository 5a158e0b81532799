package main

import (
	"os"
	"regexp"
	"testing"

	"github.com/mpgate/mpgate/internal/apachetest"
)

// This file is the differential suite of mod_python.publisher: mod_python 3.5's own publisher
// tests (test_publisher, test_publisher_auth_nested, test_publisher_auth_method_nested,
// test_publisher_auth_digest, test_publisher_security, test_publisher_hierarchy,
// test_publisher_old_style_instance, test_publisher_instance, test_pipe_ext) with the pages
// and configuration test.py gives them (testdata/publisher), and mpgate's own cases in the
// default host, sent to real mod_python and to mpgate behind mod_fcgid and mod_proxy_fcgi.

// publisherUpstream are mod_python's own cases.
var publisherUpstream = []apiCase{
	get("test_publisher", "/tests.py"),
	get("test_publisher", "/tests.py/index"),
	get("test_publisher", "/tests.py/test_publisher"),
	get("test_publisher", "/"),
	get("test_publisher", "/foobar"),
	get("test_publisher", "/tests"),
	// test_publisher_auth_nested and _method_nested send credentials, which Debian's mod_python
	// 3.5 answers 400 (base64.decodestring is gone from Python 3.9): they are publisherFixed
	// cases; here the same URLs without credentials.
	{name: "test_publisher_auth_nested (no credentials)", method: "GET", path: "/tests.py/test_publisher_auth_nested",
		host: "test_publisher_auth_nested"},
	{name: "test_publisher_auth_method_nested (no credentials)", method: "GET", path: "/tests.py/test_publisher_auth_method_nested/method",
		host: "test_publisher_auth_method_nested"},
	{name: "test_publisher_auth_digest", method: "GET", path: "/tests.py/test_publisher", host: "test_publisher_auth_digest",
		headers: []string{`Authorization: Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"`}},
	// test_publisher_security: each must be 403.
	get("test_publisher", "/tests.py/_SECRET_PASSWORD"),
	get("test_publisher", "/tests.py/__ANSWER"),
	get("test_publisher", "/tests.py/re"),
	get("test_publisher", "/tests.py/OldStyleClassTest"),
	get("test_publisher", "/tests.py/InstanceTest"),
	get("test_publisher", "/tests.py/index/func_code"),
	get("test_publisher", "/tests.py/old_instance/traverse/func_code"),
	get("test_publisher", "/tests.py/instance/traverse/func_code"),
	get("test_publisher", "/tests.py/test_dict/keys"),
	get("test_publisher", "/tests.py/test_dict_keys"),
	get("test_publisher_hierarchy", "/tests.py/hierarchy_root"),
	get("test_publisher_hierarchy", "/tests.py/hierarchy_root/page1"),
	get("test_publisher_hierarchy", "/tests.py/hierarchy_root_2/page1"),
	get("test_publisher_hierarchy", "/tests.py/hierarchy_root/page1/subpage1"),
	get("test_publisher_hierarchy", "/tests.py/hierarchy_root/page2"),
	get("test_publisher_hierarchy", "/tests.py/hierarchy_root_2/page2"),
	get("test_publisher", "/tests.py/old_instance"),
	get("test_publisher", "/tests.py/old_instance/traverse"),
	get("test_publisher", "/tests.py/instance"),
	get("test_publisher", "/tests.py/instance/traverse"),
	get("test_pipe_ext", "/tests.py/pipe_ext"),
	get("test_pipe_ext", "/tests/anything"),
}

// objectAddress matches the address in an object's repr, which differs between processes.
var objectAddress = regexp.MustCompile(` at 0x[0-9a-f]+>`)

func normalizeAddress(b []byte, _ *apachetest.Server) []byte {
	return objectAddress.ReplaceAll(b, []byte(" at 0x@ADDR@>"))
}

const ctURLEncoded = "Content-Type: application/x-www-form-urlencoded"

// publisherOwn are mpgate's own cases (htdocs/own, htdocs/addh).
var publisherOwn = []apiCase{
	get("", "/own/page.py"),
	get("", "/own/page.py/"),
	get("", "/own/page.py/index"),
	get("", "/own/page"),
	get("", "/own/page/hello"),
	get("", "/own/page.py/hello"),
	get("", "/own/page.py/hello?name=there"),
	get("", "/own/page.py/hello?name=one&name=two"),
	get("", "/own/page.py/hello/"),
	get("", "/own/page.py/args?first=1&second=2&third=3"),
	get("", "/own/page.py/args?second=2", normalizeLibraryFrames),
	get("", "/own/page.py/args?first="),
	get("", "/own/page.py/kwargs?xname=1&yname=2"),
	get("", "/own/page.py/noreq?alpha=1"),
	get("", "/own/page.py/many?item=1&item=2"),
	{method: "POST", path: "/own/page.py/hello", body: "name=posted", headers: []string{ctURLEncoded}},
	{method: "POST", path: "/own/page.py/hello?name=query", body: "other=1", headers: []string{ctURLEncoded}},
	{method: "POST", path: "/own/page.py/form?query=1", body: "field=value&field=again&empty=", headers: []string{ctURLEncoded}},
	get("", "/own/page.py/form?long_name=x&blank="),
	{method: "HEAD", path: "/own/page.py/hello"},
	{method: "PUT", path: "/own/page.py/hello", body: "x", norm: []normFunc{normalizeAllow}},
	{method: "DELETE", path: "/own/page.py/hello", norm: []normFunc{normalizeAllow}},
	get("", "/own/page.py/raw"),
	get("", "/own/page.py/nothing"),
	get("", "/own/page.py/written"),
	get("", "/own/page.py/number"),
	get("", "/own/page.py/adict"),
	get("", "/own/page.py/html"),
	get("", "/own/page.py/html_early"),
	get("", "/own/page.py/ctype"),
	get("", "/own/page.py/raises", normalizeLibraryFrames, normalizePageFrame),
	get("", "/own/page.py/forbidden"),
	get("", "/own/page.py/redirect"),
	get("", "/own/page.py/returns_callable?name=again"),
	get("", "/own/page.py/obj/attr"),
	get("", "/own/page.py/obj/number"),
	get("", "/own/page.py/obj/method?xvalue=5"),
	get("", "/own/page.py/obj/_private"),
	get("", "/own/page.py/obj/prop"),
	get("", "/own/page.py/obj", normalizeAddress, normalizePageName),
	get("", "/own/page.py/mapping"),
	get("", "/own/page.py/mapping/keys"),
	get("", "/own/page.py/text"),
	get("", "/own/page.py/text/upper"),
	get("", "/own/page.py/a_list"),
	get("", "/own/page.py/util"),
	get("", "/own/page.py/apache/OK"),
	get("", "/own/page.py/nosuch"),
	get("", "/own/page.py/obj/nosuch"),
	get("", "/own/page.py/with_default_none"),
	get("", "/own/nosuchpage.py"),
	get("", "/own/nosuchpage"),
	get("", "/own/sub/"),
	get("", "/own/sub/foo"),
	get("", "/own/sub/bar"),
	get("", "/own/sub"),
	get("", "/addh/page.xyz/hello"),
	get("", "/addh/page.xyz"),
	// Authentication without credentials (with them, see publisherFixed).
	get("", "/own/secure.py"),
	get("", "/own/secure.py/area/page"),
	get("", "/own/nested.py/nested_literal"),
	get("", "/own/nested.py/nested_func"),
	get("", "/own/nested.py/realm_only"),
	get("", "/own/dictauth.py"),
	{method: "GET", path: "/own/secure.py", headers: []string{"Authorization: Basic !!!"}},
	{method: "GET", path: "/own/page.py/hello", headers: []string{"Authorization: Basic !!!"}},
	{method: "GET", path: "/own/page.py/hello", headers: []string{basicAuth("any:one")}},
}

// publisherFixed are cases where mpgate deliberately differs from mod_python 3.5 (docs/compat.md),
// checked on mpgate alone.
var publisherFixed = []struct {
	name, path string
	headers    []string
	status     int
	body       string
}{
	{"get_page", "/own/getpage.py", nil, 200, "hello from get_page same=True"},
	{"get_page missing", "/own/getpage.py/missing", nil, 404, ""},
	{"test_publisher_auth_nested", "/tests.py/test_publisher_auth_nested", []string{"Host: test_publisher_auth_nested", basicAuth("spam:eggs")},
		200, "test ok, interpreter=test_publisher_auth_nested"},
	{"test_publisher_auth_nested bad", "/tests.py/test_publisher_auth_nested", []string{"Host: test_publisher_auth_nested", basicAuth("spam:ham")}, 401, ""},
	{"test_publisher_auth_method_nested", "/tests.py/test_publisher_auth_method_nested/method",
		[]string{"Host: test_publisher_auth_method_nested", basicAuth("spam:eggs")}, 200, "test ok, interpreter=test_publisher_auth_method_nested"},
	{"module __auth__ and __access__", "/own/secure.py", []string{basicAuth("alice:secret")}, 200, "secure index"},
	{"module __access__ refuses", "/own/secure.py", []string{basicAuth("bob:secret")}, 403, ""},
	{"module __auth__ refuses", "/own/secure.py", []string{basicAuth("alice:wrong")}, 401, ""},
	{"object __auth__ after module's", "/own/secure.py/area/page", []string{basicAuth("alice:secret")}, 401, ""},
	{"dict __auth__ good", "/own/dictauth.py", []string{basicAuth("dave:pw")}, 200, "dict auth ok for None"},
	{"dict __auth__ bad", "/own/dictauth.py", []string{basicAuth("dave:nope")}, 401, ""},
	{"nested literal __auth__ good", "/own/nested.py/nested_literal", []string{basicAuth("carol:pw")}, 200, "nested literal ok"},
	{"nested literal __auth__ bad", "/own/nested.py/nested_literal", []string{basicAuth("carol:bad")}, 401, ""},
	{"nested __access__ tuple", "/own/nested.py/nested_access_list", []string{basicAuth("alice:x")}, 200, "nested access ok"},
	{"nested __access__ tuple refuses", "/own/nested.py/nested_access_list", []string{basicAuth("eve:x")}, 403, ""},
	{"nested __auth__ func good", "/own/nested.py/nested_func", []string{basicAuth("x:nested")}, 200, "nested func ok"},
	{"nested __auth__ func bad", "/own/nested.py/nested_func", []string{basicAuth("x:other")}, 401, ""},
	// Debian's mod_python 3.5 fails on this one even without credentials (IndexError: it reads
	// the nested __access__ at a constant-table offset of Python < 3.11).
	{"nested method no credentials", "/own/nested.py/holder/method", nil, 401, ""},
	{"nested method good", "/own/nested.py/holder/method", []string{basicAuth("meth:od")}, 200, "nested method ok"},
	{"nested method bad", "/own/nested.py/holder/method", []string{basicAuth("meth:no")}, 401, ""},
}

// libraryFrame matches a traceback frame in mod_python's own library, whose path and line
// numbers differ between mod_python and mpgate's runtime.
var libraryFrame = regexp.MustCompile(`File &quot;[^&]*/mod_python/(\w+\.py)&quot;, line \d+`)

func normalizeLibraryFrames(b []byte, _ *apachetest.Server) []byte {
	return libraryFrame.ReplaceAll(b, []byte("File &quot;(mod_python)/$1&quot;, line N"))
}

// pageFrame matches a traceback frame in a published page: mod_python compiles pages from a
// string ("<string>", no source line); mpgate shows the file and the line (docs/compat.md).
var pageFrame = regexp.MustCompile(`File &quot;[^&]*/htdocs/own/\w+\.py&quot;, (line \d+, in \w+)\n    [^\n]*\n`)

func normalizePageFrame(b []byte, _ *apachetest.Server) []byte {
	return pageFrame.ReplaceAll(b, []byte("File &quot;&lt;string&gt;&quot;, $1\n"))
}

// pageName matches the module name mod_python gives a page (its path, non-word characters as
// "_"); mpgate's is the file's name (docs/compat.md).
var pageName = regexp.MustCompile(`\b_\w+_htdocs_own_(\w+)_py\.`)

func normalizePageName(b []byte, _ *apachetest.Server) []byte {
	return pageName.ReplaceAll(b, []byte("$1."))
}

// TestPublisher sends publisherUpstream and publisherOwn to real mod_python 3.5 and to mpgate
// (mod_fcgid and mod_proxy_fcgi) serving testdata/publisher, and checks publisherFixed on
// mpgate.
func TestPublisher(t *testing.T) {
	_, conf := stageSiteFrom(t, "testdata/publisher")
	src, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	ref := apachetest.ModPython(t, string(src), nil)
	cases := append(append([]apiCase(nil), publisherUpstream...), publisherOwn...)
	for _, via := range []string{"fcgid", "proxy"} {
		t.Run(via, func(t *testing.T) {
			got := preview(t, conf, via)
			for _, c := range cases {
				t.Run(c.title(), func(t *testing.T) { compareCase(t, ref, got, c) })
			}
			for _, c := range publisherFixed {
				t.Run("mpgate "+c.name, func(t *testing.T) {
					r := got.Get(t, c.path, c.headers...)
					if r.Status != c.status || (c.body != "" && string(r.Body) != c.body) {
						t.Errorf("GET %s: got %d %q, want %d %q", c.path, r.Status, r.Body, c.status, c.body)
					}
				})
			}
		})
	}
}
