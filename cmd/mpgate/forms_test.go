package main

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mpgate/mpgate/internal/apachetest"
)

// This file is the differential suite of mod_python.util (issue 5): mod_python 3.5's own
// per-request tests of FieldStorage and util.redirect (test_util_fieldstorage,
// test_fileupload, test_fileupload_embedded_cr, test_fileupload_split_boundary, and the
// content-phase half of test_util_redirect) ported to testdata/forms with the configuration
// test.py gives them, and mpgate's own cases (htdocs/forms.py) in the default host, sent to real
// mod_python and to mpgate behind mod_fcgid and mod_proxy_fcgi. Where mpgate deliberately
// differs (its form limits, malformed multipart bodies answered 400, form values that are not
// UTF-8, query-string names that mod_python's parse_qsl garbles) the cases run against mpgate
// only and check the status, the body and the error-log line.

// utilReadBlockSize is mod_python.util.utilReadBlockSize, which test_fileupload_* build their files
// around.
const utilReadBlockSize = 65368

// uploadBoundary is the boundary of the upstream upload tests' bodies (test.py makes a random
// one of this shape).
const uploadBoundary = "=============4815162342=="

// upstreamUpload is test.py's vhost_post_multipart_form_data: a variable part "test" (with its
// folded Content-Disposition) and a file part "testfile" holding content.
func upstreamUpload(name, content string) apiCase {
	var b strings.Builder
	b.WriteString("--" + uploadBoundary + "\r\n")
	b.WriteString("Content-Type: text/plain\r\n")
	b.WriteString("Content-Disposition: form-data;\r\n name=\"test\"\r\n\r\nabcd\r\n")
	b.WriteString("--" + uploadBoundary + "\r\n")
	b.WriteString("Content-Type: application/octet-stream\r\n")
	b.WriteString("Content-Disposition: form-data; name=\"testfile\"; filename=\"test.txt\"\r\n\r\n")
	b.WriteString(content)
	b.WriteString("\r\n--" + uploadBoundary + "--\r\n")
	return apiCase{name: name, method: "POST", path: "/tests.py", host: "test_fileupload", body: b.String(),
		headers: []string{`Content-Type: multipart/form-data; boundary="` + uploadBoundary + `"`}}
}

// fixedRandomBytes returns n bytes of a fixed pseudo-random sequence (test_fileupload's 1 MB file
// of random bytes, made the same on every run).
func fixedRandomBytes(n int) string {
	r := rand.New(rand.NewPCG(5, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	return string(b)
}

// formsUpstream are the upstream tests, each in its own <VirtualHost>.
var formsUpstream = []apiCase{
	{name: "test_util_fieldstorage", method: "POST", path: "/tests.py", host: "test_util_fieldstorage",
		body:    "spam=1&spam=2&eggs=3&bacon=4",
		headers: []string{"Content-type: application/x-www-form-urlencoded", "Accept: text/plain"}},
	upstreamUpload("test_fileupload", fixedRandomBytes(1024*1024)),
	upstreamUpload("test_fileupload_embedded_cr",
		strings.Repeat("a", 100)+"\r\n"+strings.Repeat("b", utilReadBlockSize-1)+"\r"+"ccc"+strings.Repeat("d", 100)+"\r\n"),
	upstreamUpload("test_fileupload_split_boundary", strings.Repeat("a", 100)+"\r\n"+strings.Repeat("b", utilReadBlockSize-1)),
	upstreamUpload("test_fileupload_split_boundary extra cr", strings.Repeat("a", 100)+"\r\n"+strings.Repeat("b", utilReadBlockSize-1)+"\r"),
	// test_util_redirect redirects from a PythonFixupHandler, which mpgate does not run; its
	// handler's content-phase twin checks the same answer (302, Location /dummy, body "test ok").
	get("test_util_redirect", "/"),
	get("test_util_redirect", "/tests.py"),
}

const (
	ctForm = "Content-Type: application/x-www-form-urlencoded"
	mpB    = "xYzZY"
	ctMP   = "Content-Type: multipart/form-data; boundary=" + mpB
)

// mpBody builds a multipart body with boundary mpB: each part is its header lines, a blank line
// and its data, and the body ends with the closing boundary.
func mpBody(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		b.WriteString("--" + mpB + "\r\n" + p + "\r\n")
	}
	b.WriteString("--" + mpB + "--\r\n")
	return b.String()
}

// mpField and mpFile are multipart parts for mpBody.
func mpField(name, value string) string {
	return "Content-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value
}

func mpFile(name, filename, ctype, data string) string {
	return "Content-Disposition: form-data; name=\"" + name + "\"; filename=\"" + filename + "\"\r\nContent-Type: " + ctype + "\r\n\r\n" + data
}

// postForm and postMultipart are POST cases in the default host.
func postForm(path, body string, headers ...string) apiCase {
	return apiCase{method: "POST", path: path, body: body, headers: headers}
}

func postMultipart(name, path, body string, headers ...string) apiCase {
	return apiCase{name: name, method: "POST", path: path, body: body, headers: append([]string{ctMP}, headers...)}
}

// formPairs returns n urlencoded pairs f0=v&f1=v...
func formPairs(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte('&')
		}
		fmt.Fprintf(&b, "f%d=v", i)
	}
	return b.String()
}

// Query strings of the differential cases use names that mod_python's parse_qsl keeps: it
// reads a name from freed memory, which holds the value instead when both had to shrink to a
// smaller allocation ("a=1" comes out as Field('1', '1')); see formsOwn for that case.
var formsCases = []apiCase{
	get("", "/dump?spam=1&spam=2&eggs=3"),
	get("", "/dump_blank?spam=&eggs=1&ham"),
	get("", "/dump?long_name=v&another_key=value2&long_name=again"),
	get("", "/dump?name=caf%C3%A9&plus=a+b"),
	get("", "/dump?bad=%FF%FE&a=1"),
	get("", "/dump_strict?spam=1;eggs=&&ham"),
	get("", "/dump"),
	get("", "/list?spam=1&eggs=2"),

	// urlencoded bodies (names are bytes), with and without a query string
	postForm("/dump?query_key=qv", "spam=1&eggs=&bacon", ctForm),
	postForm("/dump_blank?query_key=qv", "spam=1&eggs=&bacon&=x", ctForm),
	postForm("/dump", "name=caf%C3%A9&%C3%A9t%C3%A9=%E2%82%AC", ctForm),
	postForm("/dump", "a+b=c+d;e=f%20g&&h=%zz%4", ctForm),
	postForm("/dump", "x=1&y=2"),
	postForm("/dump", "x=1", "Content-Type: application/x-www-form-urlencoded; charset=UTF-8"),
	postForm("/dump", "x=1", "Content-Type: Application/X-WWW-Form-Urlencoded"),
	postForm("/dump", "x=1&nul=a%00b", ctForm),
	postForm("/dump", formPairs(2000), ctForm),
	postForm("/list", "spam=1&spam=2", ctForm),
	postForm("/sizes", "big="+strings.Repeat("%41b+", 600000)+"&small=1", ctForm),
	postMultipart("multipart large text field", "/sizes", mpBody(mpField("big", strings.Repeat("line of text\r\n", 250000)), mpField("small", "1"))),
	{method: "PUT", path: "/dump?long_name=put", body: "x=1", headers: []string{ctForm}},
	{method: "GET", path: "/dump?long_name=get", body: "x=1", headers: []string{ctForm}},
	{method: "PATCH", path: "/dump", body: "x=1", headers: []string{ctForm}},

	// bodies FieldStorage refuses
	postForm("/dump", "x=1", "Content-Type: text/plain"),
	postForm("/dump", "x=1", "Content-Type: application/json"),
	postForm("/quiet/dump", "x=1", "Content-Type: text/plain"),
	postForm("/dump", mpBody(mpField("a", "1")), "Content-Type: multipart/form-data"),
	postForm("/dump", mpBody(mpField("a", "1")), "Content-Type: multipart/form-data; charset=utf-8"),

	// multipart
	postMultipart("multipart fields and files", "/dump", mpBody(mpField("a", "1"), mpField("b", ""), mpField("a", "2"),
		mpFile("f", "one.txt", "text/plain; charset=utf-8", "line 1\r\nline 2\n"),
		mpFile("f", "two.bin", "application/octet-stream", "\x00\x01\r\n\xff"),
		mpFile("empty", "empty.txt", "text/plain", ""))),
	postMultipart("multipart files", "/files", mpBody(mpField("a", "1"),
		mpFile("f", "C:\\Documents\\report.txt", "text/plain", strings.Repeat("0123456789\r\n", 10000)),
		mpFile("g", "caf\xc3\xa9 \xe2\x82\xac.txt", "text/plain", "non-ASCII filename"),
		mpFile("h", "", "text/plain", "empty filename"))),
	postMultipart("multipart non-ASCII names", "/dump", mpBody(mpField("caf\xc3\xa9", "\xc3\xa9t\xc3\xa9"),
		"Content-Disposition: form-data; name=nom_sans_guillemets\r\n\r\nx")),
	postMultipart("multipart with query", "/dump?long_name=q", mpBody(mpField("long_name", "body"))),
	postMultipart("multipart keep_blank_values has no effect", "/dump_blank", mpBody(mpField("blank", ""), mpField("x", "1"))),
	postMultipart("multipart headers", "/dump", mpBody(
		"Content-Disposition: form-data;\r\n\tname=\"folded\";\r\n filename=\"f.txt\"\r\nContent-Type: image\r\nX-Extra: one\r\nX-Extra: two\r\n\r\ndata",
		"content-disposition: FORM-DATA; NAME=\"upper\"\r\ncontent-type: Text/Plain; Charset=\"UTF-8\"; format=flowed\r\n\r\nx",
		"Content-Disposition: form-data; name=\"noname-file\"; filename=\"x\"\r\n\r\nno content type",
		"Content-Disposition: attachment\r\n\r\nno name",
	)),
	postMultipart("multipart data shapes", "/dump", mpBody(
		mpField("crlf", "a\r\nb\r\n"),
		mpField("cr", "a\rb\r"),
		mpField("lf", "a\nb\n"),
		mpField("dashes", "--"+mpB+" inside\r\n --"+mpB),
		mpField("long", strings.Repeat("x", utilReadBlockSize+10)),
	)),
	{name: "multipart preamble", method: "POST", path: "/dump", headers: []string{ctMP},
		body: "preamble line\r\n\r\n" + mpBody(mpField("a", "1"))},
	{name: "multipart parts after the closing boundary", method: "POST", path: "/dump", headers: []string{ctMP},
		body: mpBody(mpField("a", "1")) + "--" + mpB + "\r\n" + mpField("late", "2") + "\r\n"},
	{name: "multipart missing final boundary", method: "POST", path: "/dump", headers: []string{ctMP},
		body: "--" + mpB + "\r\n" + mpField("a", "1") + "\r\n--" + mpB + "\r\n" + mpField("b", "no end")},
	{name: "multipart missing final boundary after CRLF", method: "POST", path: "/dump", headers: []string{ctMP},
		body: "--" + mpB + "\r\n" + mpField("a", "ends\r\n")},
	{name: "multipart bare LF boundaries", method: "POST", path: "/dump", headers: []string{ctMP},
		body: "--" + mpB + "\n" + "Content-Disposition: form-data; name=\"a\"\r\n\r\nvalue\n--" + mpB + "--\n"},
	{name: "multipart headers without data", method: "POST", path: "/dump", headers: []string{ctMP},
		body: "--" + mpB + "\r\nContent-Disposition: form-data; name=\"a\"\r\n--" + mpB + "\r\n" + mpField("b", "2") + "\r\n--" + mpB + "--\r\n"},
	{name: "multipart empty parts", method: "POST", path: "/dump", headers: []string{ctMP},
		body: "--" + mpB + "\r\n--" + mpB + "\r\n" + mpField("b", "2") + "\r\n--" + mpB + "--\r\n"},
	{name: "multipart no boundary in body", method: "POST", path: "/dump", headers: []string{ctMP}, body: "just text\r\n"},
	{name: "multipart empty body", method: "POST", path: "/dump", headers: []string{ctMP}, body: ""},
	{name: "multipart quoted boundary", method: "POST", path: "/dump", body: mpBody(mpField("a", "1")),
		headers: []string{`Content-Type: multipart/form-data; BOUNDARY="` + mpB + `"`}},
	{name: "multipart boundary with regex characters", method: "POST", path: "/dump",
		body:    strings.ReplaceAll(mpBody(mpField("a", "1")), mpB, "a.b+c(d)*"),
		headers: []string{"Content-Type: multipart/form-data; boundary=a.b+c(d)*"}},
	{name: "multipart boundary then another parameter", method: "POST", path: "/dump", body: mpBody(mpField("a", "1")),
		headers: []string{"Content-Type: multipart/form-data; boundary=" + mpB + "; charset=utf-8"}},
	{name: "multipart empty boundary", method: "POST", path: "/dump", body: strings.ReplaceAll(mpBody(mpField("a", "1")), mpB, ""),
		headers: []string{"Content-Type: multipart/form-data; boundary="}},
	{name: "multipart/mixed", method: "POST", path: "/dump", body: mpBody(mpField("a", "1")),
		headers: []string{"Content-Type: multipart/mixed; boundary=" + mpB}},
	postMultipart("multipart many parts", "/dump", mpBody(repeatString(mpField("n", "v"), 300)...)),

	// the mapping API and the classes
	get("", "/lookup?spam=1&spam=2&eggs=3"),
	postForm("/lookup", "spam=1&spam=2", ctForm),
	get("", "/mutate?spam=1&eggs=2"),
	postForm("/mutate?query_key=1", "spam=1&eggs=2", ctForm),
	get("", "/stringfield?text=abc&euro=%E2%82%AC"),
	postForm("/stringfield", "text=abc&euro=%E2%82%AC", ctForm),
	postMultipart("stringfield multipart", "/stringfield", mpBody(mpField("text", "abc"), mpFile("f", "f.txt", "text/plain", "file"))),
	get("", "/classes"),
	get("", "/qs?0"), get("", "/qs?1"), get("", "/qs?2"), get("", "/qs?3"), get("", "/qs?4"),
	get("", "/qs?5"), get("", "/qs?6"), get("", "/qs?bytes7"), get("", "/qs?8"),
	get("", "/qs?none"), get("", "/qs?int"), get("", "/qs?euro"),
	get("", "/qs_args?spam=1&eggs=&ham"),
	postForm("/qs_args?spam=1", "x=1&y=&z", ctForm),

	// apply_fs_data, as the publisher calls it
	get("", "/apply?alpha=A&beta=B&gamma=C"),
	get("", "/apply?alpha=A&alpha=A2&rest=R"),
	get("", "/apply?beta=B"),
	get("", "/apply"),
	postForm("/apply", "alpha=A&beta=B", ctForm),
	postMultipart("apply multipart", "/apply", mpBody(mpField("alpha", "A"), mpField("beta", "B"), mpField("gamma", "C"))),
	postMultipart("apply multipart field named req", "/apply", mpBody(mpField("alpha", "A"), mpField("req", "R"))),
	postMultipart("apply_files", "/apply_files", mpBody(mpFile("upfile", "x.txt", "text/plain", "content"), mpField("note", "n"))),
	postMultipart("apply_files two", "/apply_files", mpBody(mpFile("upfile", "x.txt", "text/plain", "1"), mpFile("upfile", "y.txt", "text/plain", "2"))),

	// redirect
	get("", "/redirect"),
	get("", "/redirect_permanent"),
	get("", "/redirect_text"),
	get("", "/redirect_held"),
	get("", "/redirect_after_write"),
	get("", "/redirect_bytes"),
	postForm("/redirect_form", "location=there", ctForm),
	get("", "/redirect_form?location=there"),
	{method: "HEAD", path: "/redirect"},
	get("", "/quiet/redirect"),

	// other uses
	postForm("/twice", "x=1&y=2", ctForm),
	postForm("/read_first?long_name=q", "x=1&y=2", ctForm),
	postMultipart("callbacks", "/callbacks", mpBody(mpField("a", "1"), mpFile("f", "f.txt", "text/plain", "data"), mpField("b", "2"))),
	get("", "/nosuchcase"),
}

// repeatString returns n copies of s.
func repeatString(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// rawCase is a request written byte for byte (no Content-Length, an HTTP/1.0 request), for what
// net/http cannot send; "Host: ..." is added. gap and gapVia are apiCase's. What the gateways
// pass of such a request's body (mod_fcgid's CONTENT_LENGTH 0, a de-chunked body's length) is
// put right by the client headers apache-conf's SetEnvIf lines pass on.
type rawCase struct {
	name, request string
	gap, gapVia   string
}

var formsRaw = []rawCase{
	{name: "POST without Content-Length", request: "POST /dump?long_name=q HTTP/1.0\r\n" + ctForm + "\r\n\r\n"},
	{name: "POST urlencoded with Content-Length 0", request: "POST /dump?long_name=q HTTP/1.0\r\n" + ctForm + "\r\nContent-Length: 0\r\n\r\n"},
	{name: "POST multipart with Content-Length 0", request: "POST /dump HTTP/1.0\r\n" + ctMP + "\r\nContent-Length: 0\r\n\r\n"},
	{name: "POST multipart without Content-Length", request: "POST /dump HTTP/1.0\r\n" + ctMP + "\r\n\r\n"},
	{name: "chunked POST", request: "POST /dump HTTP/1.1\r\n" + ctForm + "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nx=1\r\n0\r\n\r\n"},
}

// mpgateCase is a request whose answer mpgate gives deliberately differently from mod_python
// (docs/compat.md): checked against mpgate alone.
type mpgateCase struct {
	apiCase
	status int
	want   *regexp.Regexp // the body must match, when set
	log    string         // the error log must get this line
}

var formsOwn = []mpgateCase{
	// mod_python's parse_qsl names these fields after their values (Field('1', '1')).
	{apiCase: get("", "/list?a=1&b=2&a=3"), status: 200, want: regexp.MustCompile(`^\[Field\('a', '1'\), Field\('b', '2'\), Field\('a', '3'\)\]\n$`)},
	// Limits (testdata/forms/site.conf: max_fields 5, max_field_size 100 under /limits).
	{apiCase: get("", "/limits/dump?f1=1&f2=2&f3=3&f4=4&f5=5"), status: 200},
	{apiCase: get("", "/limits/dump?f1=1&f2=2&f3=3&f4=4&f5=5&f6=6"), status: 400,
		log: "mod_python.util.FieldStorage: the form has more than 5 fields; raise PythonOption mod_python.util.max_fields (0 = unlimited) to accept it"},
	{apiCase: postForm("/limits/dump?f1=1&f2=2&f3=3", "f4=4&f5=5&f6=", ctForm), status: 200},
	{apiCase: postForm("/limits/dump?f1=1&f2=2&f3=3", "f4=4&f5=5&f6=6", ctForm), status: 400, log: "more than 5 fields"},
	{apiCase: postForm("/limits/dump", "x="+strings.Repeat("y", 98), ctForm), status: 200},
	{apiCase: postForm("/limits/dump", "x="+strings.Repeat("y", 99), ctForm), status: 413,
		log: "mod_python.util.FieldStorage: the urlencoded request body (Content-Length 101) is larger than 100 bytes; raise PythonOption mod_python.util.max_field_size (0 = unlimited) to accept it"},
	{apiCase: postMultipart("limits multipart field at the limit", "/limits/dump", mpBody(mpField("big", strings.Repeat("y", 100)))), status: 200},
	{apiCase: postMultipart("limits multipart field over the limit", "/limits/dump", mpBody(mpField("big", strings.Repeat("y", 101)))), status: 413,
		log: "mod_python.util.FieldStorage: form field 'big' is larger than 100 bytes; raise PythonOption mod_python.util.max_field_size"},
	{apiCase: postMultipart("limits multipart file over the field limit", "/limits/files", mpBody(mpFile("f", "f.txt", "text/plain", strings.Repeat("y", 10000)))), status: 200, want: regexp.MustCompile(`^'f' 'f.txt' 10000 `)},
	{apiCase: postMultipart("limits multipart parts", "/limits/dump", mpBody(repeatString(mpField("n", "v"), 6)...)), status: 400, log: "more than 5 fields"},
	{apiCase: postMultipart("limits multipart folded header", "/limits/dump", mpBody("Content-Disposition: form-data;\r\n"+strings.Repeat(" x=y;\r\n", 20)+" name=\"a\"\r\n\r\nv")), status: 413,
		log: "the header block of a multipart part is larger than 100 bytes"},
	{apiCase: postForm("/dump", formPairs(10001), ctForm), status: 400,
		log: "the form has more than 10000 fields; raise PythonOption mod_python.util.max_fields"},
	{apiCase: postForm("/unlimited/dump", formPairs(10001), ctForm), status: 200, want: regexp.MustCompile(`(?m)^len=10001$`)},
	{apiCase: get("", "/badlimit/dump"), status: 500,
		log: "mod_python.util.FieldStorage: PythonOption mod_python.util.max_fields 'many' is not a whole number >= 0"},
	// Malformed multipart bodies: mod_python fails with a traceback (500).
	{apiCase: postMultipart("multipart header without colon", "/dump", mpBody("Content-Disposition form-data; name=\"a\"\r\n\r\nv")), status: 400,
		log: `mod_python.util.FieldStorage: malformed multipart body: part header line 'Content-Disposition form-data; name="a"' has no ':'`},
	{apiCase: postMultipart("multipart part without Content-Disposition", "/dump", mpBody("Content-Type: text/plain\r\n\r\nv")), status: 400,
		log: "mod_python.util.FieldStorage: malformed multipart body: a part has no Content-Disposition header"},
	{apiCase: postMultipart("multipart part without headers", "/dump", mpBody("\r\nv")), status: 400, log: "a part has no Content-Disposition header"},
	{apiCase: apiCase{name: "multipart LF-only", method: "POST", path: "/dump", headers: []string{ctMP},
		body: "--" + mpB + "\nContent-Disposition: form-data; name=\"a\"\n\nv\n--" + mpB + "--\n"}, status: 400,
		log: "mod_python.util.FieldStorage: malformed multipart body: a part's headers end in a bare LF, not CRLF"},
	{apiCase: apiCase{name: "multipart ending in CR", method: "POST", path: "/dump", headers: []string{ctMP},
		body: "--" + mpB + "\r\n" + mpField("a", "v\r")}, status: 200, want: regexp.MustCompile(`(?m)^  bytes=b'v\\r'$`)},
	// An epilogue after the closing boundary: mod_python parses it as a part and fails.
	{apiCase: apiCase{name: "multipart epilogue", method: "POST", path: "/list", headers: []string{ctMP},
		body: mpBody(mpField("a", "1")) + "epilogue: text\r\n\r\nmore\r\n"}, status: 200, want: regexp.MustCompile(`^\[Field\('a', b'1'\)\]\n$`)},
	// Values that are not UTF-8: mod_python fails with UnicodeDecodeError (500).
	{apiCase: postForm("/dump", "latin=caf%E9&ok=1", ctForm), status: 200, want: regexp.MustCompile(`(?m)^repr\(list\)=\[Field\(b'latin', b'caf\\xe9'\), Field\(b'ok', b'1'\)\]$`)},
	{apiCase: postMultipart("multipart latin-1 value", "/dump", mpBody(mpField("latin", "caf\xe9"))), status: 200, want: regexp.MustCompile(`(?m)^  bytes=b'caf\\xe9'$`)},
}

// sendRawRequest writes request (with Host: host added after the request line) to s and reads the
// response.
func sendRawRequest(t *testing.T, s *apachetest.Server, host, request string) *apachetest.Response {
	t.Helper()
	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(s.Port), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Minute))
	line, rest, _ := strings.Cut(request, "\r\n")
	if _, err := conn.Write([]byte(line + "\r\nHost: " + host + "\r\n" + rest)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%q: read response: %v", line, err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	if _, err := body.ReadFrom(resp.Body); err != nil {
		t.Fatalf("%q: read body: %v", line, err)
	}
	h := resp.Header.Clone()
	if len(resp.TransferEncoding) > 0 {
		h["Transfer-Encoding"] = resp.TransferEncoding
	}
	return &apachetest.Response{Status: resp.StatusCode, Header: h, Body: body.Bytes(), Proto: resp.Proto}
}

// checkMpgateCase sends c to got (mpgate) and checks its status, body and error log.
func checkMpgateCase(t *testing.T, got *apachetest.Server, gotLog string, c mpgateCase) {
	t.Helper()
	req, err := http.NewRequest(c.method, c.path, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	if c.body == "" && c.method != "POST" {
		req.Body = http.NoBody
	}
	req.Host = c.host
	for _, h := range c.headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	r := got.Do(t, req)
	if r.Status != c.status {
		t.Errorf("%s %s: status %d, want %d; body:\n%s", c.method, c.path, r.Status, c.status, tailLines(string(r.Body), 20))
	}
	if c.want != nil && !c.want.Match(r.Body) {
		t.Errorf("%s %s: body does not match %s:\n%s", c.method, c.path, c.want, tailLines(string(r.Body), 30))
	}
	if c.log != "" {
		waitFileContains(t, gotLog, c.log, 10*time.Second)
	}
}

// TestForms sends formsUpstream, formsCases and formsRaw to real mod_python 3.5 and to mpgate
// (mod_fcgid and mod_proxy_fcgi) serving testdata/forms and compares the answers, and checks
// formsOwn against mpgate.
func TestForms(t *testing.T) {
	_, conf, ref := referenceSite(t, "testdata/forms")
	cases := append(append([]apiCase(nil), formsUpstream...), formsCases...)
	for _, via := range []string{"fcgid", "proxy"} {
		t.Run(via, func(t *testing.T) {
			got, run := previewRun(t, conf, via)
			gotLog := filepath.Join(run, "logs", "error.log")
			for _, c := range cases {
				t.Run(c.title(), func(t *testing.T) { compareCase(t, ref, got, c) })
			}
			for _, c := range formsRaw {
				t.Run(c.name, func(t *testing.T) {
					want, have := sendRawRequest(t, ref, "forms", c.request), sendRawRequest(t, got, "forms", c.request)
					if c.gap == "" || (c.gapVia != "" && c.gapVia != via) {
						apachetest.CompareResponses(t, ref, got, c.name, want, have, normalizeTraceback)
						return
					}
					rec := &gapRecorder{TB: t}
					apachetest.CompareResponses(rec, ref, got, c.name, want, have, normalizeTraceback)
					checkGap(t, c.gap, rec.errs)
				})
			}
			for _, c := range formsOwn {
				t.Run("mpgate "+c.title(), func(t *testing.T) { checkMpgateCase(t, got, gotLog, c) })
			}
			t.Run("mpgate upload memory", func(t *testing.T) { checkUploadMemory(t, got) })
			t.Run("mpgate upload cut short", func(t *testing.T) { checkCutShort(t, got) })
		})
	}
}

// growthLine is case_memory's report of how much the worker's peak RSS grew while FieldStorage
// read the upload.
var growthLine = regexp.MustCompile(`(?m)^growth_kib (\d+)$`)

// checkUploadMemory uploads a 10 MiB file and checks that the worker's peak memory grew by far
// less: FieldStorage streams uploads to temporary files.
func checkUploadMemory(t *testing.T, got *apachetest.Server) {
	data := fixedRandomBytes(10 << 20)
	req, err := http.NewRequest("POST", "/memory", strings.NewReader(mpBody(mpFile("f", "big.bin", "application/octet-stream", data))))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", strings.TrimPrefix(ctMP, "Content-Type: "))
	r := got.Do(t, req)
	m := growthLine.FindSubmatch(r.Body)
	if r.Status != 200 || m == nil || !bytes.Contains(r.Body, []byte(fmt.Sprintf("'f' %d", len(data)))) {
		t.Fatalf("POST /memory: %d %q", r.Status, r.Body)
	}
	if kib, _ := strconv.Atoi(string(m[1])); kib > 3<<10 {
		t.Errorf("the worker's peak RSS grew by %d KiB while FieldStorage read a 10 MiB upload", kib)
	}
}

// checkCutShort sends a multipart body shorter than its Content-Length and closes its side of
// the connection: the request must end with an error status, not hang.
func checkCutShort(t *testing.T, got *apachetest.Server) {
	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(got.Port), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Minute))
	body := "--" + mpB + "\r\n" + mpField("a", strings.Repeat("x", 300000))
	if _, err := conn.Write([]byte("POST /dump HTTP/1.1\r\nHost: forms\r\n" + ctMP + "\r\nContent-Length: 1000000\r\n\r\n" + body)); err != nil {
		t.Fatal(err)
	}
	conn.(*net.TCPConn).CloseWrite()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no response to a body cut short: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 {
		t.Errorf("a body cut short got status %d, want an error", resp.StatusCode)
	}
}
