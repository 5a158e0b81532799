package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var explainUpdate = flag.Bool("explain-update", false, "rewrite testdata/htaccess/explain.golden")

// htaccessCases run against real mod_python and mpgate (testdata/htaccess):
// .htaccess files with raw Python* directives, AllowOverride and
// AllowOverrideList, *Match sections, <If>, DirectoryIndex and two
// name-based virtual hosts.
var htaccessCases = []apiCase{
	{name: "directory", method: "GET", path: "/app/page.txt", host: "hta"},
	{name: "if at vhost level", method: "GET", path: "/app/page.txt?beta=1", host: "hta"},
	{name: "htaccess overrides handler option debug", method: "GET", path: "/app/sub/page.txt", host: "hta"},
	{name: "allowoverride none ignores the file", method: "GET", path: "/app/closed/page.txt", host: "hta"},
	{name: "allowoverridelist grants", method: "GET", path: "/app/listed/page.txt", host: "hta"},
	{name: "allowoverridelist refuses unlisted", method: "GET", path: "/app/listed/bad/page.txt", host: "hta", logs: []string{"not allowed here"}},
	{name: "directorymatch", method: "GET", path: "/app/m1/page.txt", host: "hta"},
	{name: "filesmatch", method: "GET", path: "/app/special.txt", host: "hta"},
	{name: "locationmatch", method: "GET", path: "/app/loc/page.txt", host: "hta"},
	{name: "if in htaccess get", method: "GET", path: "/app/ifhta/page.txt", host: "hta"},
	{name: "if in htaccess post", method: "POST", path: "/app/ifhta/page.txt", host: "hta", body: "a=1"},
	{name: "other vhost interpreter and handler", method: "GET", path: "/app/page.txt", host: "other"},
	{name: "other vhost reads no htaccess", method: "GET", path: "/app/sub/page.txt", host: "other"},
	{name: "directoryindex", method: "GET", path: "/idx/", host: "hta"},
	{name: "index file", method: "GET", path: "/idx/index.py", host: "hta"},
}

// htaccessWant is what mod_python's answer to each GET case holds, so that
// the comparison is known to compare the handlers' output.
var htaccessWant = map[string]string{
	"directory":         "handler=show\nfilename=htdocs/app/page.txt\nuri=/app/page.txt\ndirectory=htdocs/app/\ninterpreter=hta\ndebug=0\noption level=app\n",
	"if at vhost level": "option beta=yes\n",
	"htaccess overrides handler option debug": "handler=sub\nfilename=htdocs/app/sub/page.txt\nuri=/app/sub/page.txt\ndirectory=htdocs/app/sub/\ninterpreter=hta\ndebug=1\noption level=sub\n",
	"allowoverride none ignores the file":     "option level=app\n",
	"allowoverridelist grants":                "handler=show\n",
	"allowoverridelist refuses unlisted":      "500 Internal Server Error",
	"directorymatch":                          "option matched=directorymatch\n",
	"filesmatch":                              "option files=filesmatch\n",
	"locationmatch":                           "option location=locationmatch\n",
	"if in htaccess get":                      "option method=other\n",
	"other vhost interpreter and handler":     "handler=other\nfilename=htdocs/app/page.txt\nuri=/app/page.txt\ndirectory=htdocs/app/\ninterpreter=other_interp\n",
	"other vhost reads no htaccess":           "handler=other\n",
	"directoryindex":                          "handler=show\nfilename=htdocs/idx/index.py\nuri=/idx/index.py\n",
	"index file":                              "handler=show\nfilename=htdocs/idx/index.py\n",
}

func TestHtaccessSite(t *testing.T) {
	_, conf, ref := referenceSite(t, "testdata/htaccess")
	for _, c := range htaccessCases {
		want, ok := htaccessWant[c.name]
		if !ok || c.method != "GET" {
			continue
		}
		r := ref.Get(t, c.path, "Host: "+c.host)
		if !strings.Contains(string(r.Body), want) {
			t.Errorf("mod_python's answer to %s (%s) lacks %q:\n%s", c.path, c.host, want, r.Body)
		}
	}
	for _, via := range []string{"fcgid", "proxy"} {
		t.Run(via, func(t *testing.T) {
			got, run := previewRun(t, conf, via)
			gotLog := filepath.Join(run, "logs", "error.log")
			for _, c := range htaccessCases {
				t.Run(c.title(), func(t *testing.T) {
					runCase(t, ref, got, gotLog, via, c)
				})
			}
		})
	}
}

// explainURLs are explained on the staged testdata/htaccess site and
// compared with testdata/htaccess/explain.golden (@SITE@ for the site).
var explainURLs = [][]string{
	{"http://hta/app/page.txt?beta=1"},
	{"http://hta/app/sub/page.txt"},
	{"http://hta/app/listed/bad/page.txt"},
	{"http://hta/app/m1/page.txt", "--method", "POST"},
	{"/app/ifhta/page.txt", "--host", "hta", "--method", "POST"},
	{"http://other/app/sub/page.txt"},
	{"http://hta/idx/"},
	{"http://hta/app/missing.txt/extra"},
}

func TestExplainCommand(t *testing.T) {
	dir, conf := stageSiteFrom(t, "testdata/htaccess")
	var got bytes.Buffer
	for _, args := range explainURLs {
		var out, errb bytes.Buffer
		argv := append([]string{"mpgate", "explain", "--config", conf, "--server-name", "main.test"}, args...)
		if err := newApp(&out, &errb).Run(argv); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(argv[1:], " "), err, errb.String())
		}
		got.WriteString("$ mpgate explain " + strings.Join(args, " ") + "\n")
		got.WriteString(strings.ReplaceAll(out.String(), dir, "@SITE@"))
	}
	golden := "testdata/htaccess/explain.golden"
	if *explainUpdate {
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != string(want) {
		t.Errorf("mpgate explain output differs from %s (rerun with -explain-update and review the diff):\n%s", golden, got.String())
	}
}

func TestConfigCheckHtaccess(t *testing.T) {
	dir, conf := stageSiteFrom(t, "testdata/htaccess")
	var out, errb bytes.Buffer
	if err := newApp(&out, &errb).Run([]string{"mpgate", "config", "check", "--server-name", "main.test", conf}); err != nil {
		t.Fatalf("config check: %v\n%s", err, errb.String())
	}
	s := strings.ReplaceAll(out.String(), dir, "@SITE@")
	for _, want := range []string{
		"@SITE@/htdocs/app/sub/.htaccess\n    PythonHandler show::sub  @SITE@/htdocs/app/sub/.htaccess:1\n",
		"@SITE@/htdocs/app/closed/.htaccess: not read (AllowOverride None",
		"@SITE@/htdocs/app/listed/bad/.htaccess: refuses every request below it with 500: @SITE@/htdocs/app/listed/bad/.htaccess:2: PythonHandler: not allowed here",
		"1 .htaccess files refuse requests",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("config check output lacks %q:\n%s", want, s)
		}
	}
}
