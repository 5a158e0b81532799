package rewrite

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestSplitLines(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []line
	}{
		{"plain", "a\nb\n", []line{
			{first: 1, last: 1, raw: "a\n", text: "a", eol: "\n"},
			{first: 2, last: 2, raw: "b\n", text: "b", eol: "\n"},
		}},
		{"no final newline", "a\nb", []line{
			{first: 1, last: 1, raw: "a\n", text: "a", eol: "\n"},
			{first: 2, last: 2, raw: "b", text: "b", eol: ""},
		}},
		{"crlf", "a\r\nb\r\n", []line{
			{first: 1, last: 1, raw: "a\r\n", text: "a", eol: "\r\n"},
			{first: 2, last: 2, raw: "b\r\n", text: "b", eol: "\r\n"},
		}},
		{"continuation", "a \\\n  b\nc\n", []line{
			{first: 1, last: 2, raw: "a \\\n  b\n", text: "a   b", eol: "\n"},
			{first: 3, last: 3, raw: "c\n", text: "c", eol: "\n"},
		}},
		{"crlf continuation", "a\\\r\nb\r\n", []line{
			{first: 1, last: 2, raw: "a\\\r\nb\r\n", text: "ab", eol: "\r\n"},
		}},
		{"double backslash continues", "a\\\\\nb\n", []line{
			{first: 1, last: 2, raw: "a\\\\\nb\n", text: "a\\b", eol: "\n"},
		}},
		{"backslash then space does not", "a\\ \nb\n", []line{
			{first: 1, last: 1, raw: "a\\ \n", text: "a\\ ", eol: "\n"},
			{first: 2, last: 2, raw: "b\n", text: "b", eol: "\n"},
		}},
		{"lone backslash continues", "\\\nb\n", []line{
			{first: 1, last: 2, raw: "\\\nb\n", text: "b", eol: "\n"},
		}},
		{"continued comment", "# c \\\nPythonHandler x\n", []line{
			{first: 1, last: 2, raw: "# c \\\nPythonHandler x\n", text: "# c PythonHandler x", eol: "\n"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := splitLines(tt.in)
			if !slices.Equal(got, tt.want) {
				t.Errorf("splitLines(%q) =\n%+v\nwant\n%+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestNextWord(t *testing.T) {
	tests := []struct {
		in   string
		want []word
	}{
		{`a b`, []word{{"a", false}, {"b", false}}},
		{`  "a b"  c`, []word{{"a b", true}, {"c", false}}},
		{`'a "b"' c`, []word{{`a "b"`, true}, {"c", false}}},
		{`"a \"b\" \\ \n"`, []word{{`a "b" \ \n`, true}}},
		{`a\\b a\b`, []word{{`a\b`, false}, {`a\b`, false}}},
		{`"unterminated`, []word{{"unterminated", true}}},
		{``, nil},
	}
	for _, tt := range tests {
		if got := words(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("words(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

// writeTree writes files (relative path -> content) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func proxyOptions(dir string) Options {
	return Options{OutDir: filepath.Join(dir, "out"), Via: ViaProxy, Socket: "/run/mpgate/mpgate.sock"}
}

func rewriteOne(t *testing.T, conf string) string {
	t.Helper()
	dir := shortTempDir(t)
	writeTree(t, dir, map[string]string{"site.conf": conf})
	res, err := Site(filepath.Join(dir, "site.conf"), proxyOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(res.Main)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestKeepsLineEndings(t *testing.T) {
	in := "<Directory /x>\r\n  SetHandler mod_python\r\n  Require all granted \r\n</Directory>\r\n"
	want := "<Directory /x>\r\n  <IfDefine MPGATE>\r\n  SetHandler mod_python\r\n  </IfDefine>\r\n" +
		"  SetHandler \"proxy:unix:/run/mpgate/mpgate.sock|fcgi://mpgate\"\r\n  ProxyFCGIBackendType GENERIC\r\n  SetEnv ap_trust_cgilike_cl 1\r\n  CGIPassAuth On\r\n" +
		"  Require all granted \r\n</Directory>\r\n"
	if got := rewriteOne(t, in); got != want {
		t.Errorf("rewritten CRLF file =\n%q\nwant\n%q", got, want)
	}
}

func TestFinalLineWithoutNewline(t *testing.T) {
	in := "ServerAdmin x@example.com\nPythonDebug On"
	want := "ServerAdmin x@example.com\n<IfDefine MPGATE>\nPythonDebug On\n</IfDefine>\n"
	if got := rewriteOne(t, in); got != want {
		t.Errorf("rewritten = %q, want %q", got, want)
	}
	in = "<Directory /x>\n</Directory>"
	if got := rewriteOne(t, in); got != in {
		t.Errorf("a file without Python lines changed: %q, want %q", got, in)
	}
}

func TestIncludeOrder(t *testing.T) {
	dir := shortTempDir(t)
	writeTree(t, dir, map[string]string{
		"site.conf":           "Include conf.d\nIncludeOptional sites/*/site.conf\n",
		"conf.d/b.conf":       "# b\n",
		"conf.d/a.conf":       "# a\n",
		"conf.d/.hidden":      "# a directory Include reads dot files too\n",
		"conf.d/sub/c.conf":   "# c\n",
		"sites/one/site.conf": "# one\n",
		"sites/two/site.conf": "# two\n",
		"sites/.x/site.conf":  "# not matched: * does not match a leading dot\n",
		"sites/file/x":        "# not a site.conf\n",
	})
	res, err := Site(filepath.Join(dir, "site.conf"), proxyOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range res.Files {
		got = append(got, strings.TrimPrefix(f.Src, dir+"/"))
	}
	want := []string{"site.conf", "conf.d/.hidden", "conf.d/a.conf", "conf.d/b.conf", "conf.d/sub/c.conf", "sites/one/site.conf", "sites/two/site.conf"}
	if !slices.Equal(got, want) {
		t.Errorf("Files = %q, want %q", got, want)
	}
}

// TestWritesOnlyOutDir checks that Site creates exactly Result.Files' copies under OutDir and
// changes nothing else.
func TestWritesOnlyOutDir(t *testing.T) {
	dir := shortTempDir(t)
	writeTree(t, dir, map[string]string{
		"src/site.conf":  "Include inc/*.conf\n<Directory /x>\n SetHandler mod_python\n</Directory>\n",
		"src/inc/a.conf": "PythonDebug On\n",
	})
	before := snapshot(t, dir)
	opts := proxyOptions(dir)
	res, err := Site(filepath.Join(dir, "src", "site.conf"), opts)
	if err != nil {
		t.Fatal(err)
	}
	after := snapshot(t, dir)
	var created []string
	for p := range after {
		if _, ok := before[p]; !ok {
			created = append(created, p)
		} else if after[p] != before[p] {
			t.Errorf("Site changed %s", p)
		}
	}
	var want []string
	for _, f := range res.Files {
		want = append(want, f.Out)
	}
	slices.Sort(created)
	slices.Sort(want)
	if !slices.Equal(created, want) {
		t.Errorf("Site created %q, want only %q", created, want)
	}
	for _, p := range created {
		if !strings.HasPrefix(p, opts.OutDir+"/") {
			t.Errorf("Site wrote %s outside OutDir %s", p, opts.OutDir)
		}
	}
}

// snapshot returns the regular files under dir with their contents.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		files[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestEnv(t *testing.T) {
	dir := shortTempDir(t)
	writeTree(t, dir, map[string]string{
		"site.conf":   "Define ROOT ${BASE}/x\nDocumentRoot ${ROOT}\n# ${IN_A_COMMENT}\n<IfDefine MPGATE>\nPythonPath \"['${LIBS}']\"\n</IfDefine>\nInclude ${ROOT}/more.conf\n",
		"x/more.conf": "ErrorLog ${APACHE_LOG_DIR}/error.log\n",
	})
	opts := proxyOptions(dir)
	opts.LookupEnv = func(name string) (string, bool) {
		if name == "BASE" {
			return dir, true
		}
		return "", false
	}
	res, err := Site(filepath.Join(dir, "site.conf"), opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"APACHE_LOG_DIR", "BASE", "LIBS"}; !slices.Equal(res.Env, want) {
		t.Errorf("Env = %q, want %q", res.Env, want)
	}
}

func TestIncludedTwice(t *testing.T) {
	dir := shortTempDir(t)
	writeTree(t, dir, map[string]string{
		"same.conf":   "Include common.conf\nInclude common.conf\n",
		"differ.conf": "Include common.conf\n<Location /x>\nInclude common.conf\n</Location>\n",
		"common.conf": "AddHandler mod_python .py\n",
	})
	opts := proxyOptions(dir)
	res, err := Site(filepath.Join(dir, "same.conf"), opts)
	if err != nil {
		t.Fatalf("including a file twice in the same context: %v", err)
	}
	if len(res.Files) != 2 {
		t.Errorf("Files = %v, want same.conf and common.conf once each", res.Files)
	}
	opts.OutDir = filepath.Join(dir, "out2")
	_, err = Site(filepath.Join(dir, "differ.conf"), opts)
	var e *Error
	if !errors.As(err, &e) || e.Line != 3 || !strings.Contains(err.Error(), "different rewrites") {
		t.Errorf("including a file in a <Directory>-like and a <Location> context: err = %v, want an *Error at differ.conf:3 about different rewrites", err)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		opts    func(*Options)
		file    string // the *Error's file, relative; empty if the error is not an *Error
		line    int
		wantErr string
	}{
		{name: "missing include", files: map[string]string{"site.conf": "# x\nInclude nope.conf\n"},
			file: "site.conf", line: 2, wantErr: "Include: could not open configuration file"},
		{name: "wildcard without match", files: map[string]string{"site.conf": "Include conf.d/*.conf\n", "conf.d/x.txt": ""},
			file: "site.conf", line: 1, wantErr: `no matches for the wildcard "*.conf"`},
		{name: "missing include in included file", files: map[string]string{"site.conf": "Include a.conf\n", "a.conf": "\n\nInclude b.conf\n"},
			file: "site.conf", line: 1, wantErr: "a.conf:3: Include: could not open"},
		{name: "include cycle", files: map[string]string{"site.conf": "Include a.conf\n", "a.conf": "Include site.conf\n"},
			file: "site.conf", line: 1, wantErr: "includes itself"},
		{name: "unclosed section", files: map[string]string{"site.conf": "<Directory /x>\n  PythonDebug On\n"},
			file: "site.conf", line: 1, wantErr: "<Directory> section not closed"},
		{name: "stray close", files: map[string]string{"site.conf": "# c\n</Directory>\n"},
			file: "site.conf", line: 2, wantErr: "</Directory> without matching <Directory> section"},
		{name: "mismatched close", files: map[string]string{"site.conf": "<Directory /x>\n</Location>\n"},
			file: "site.conf", line: 2, wantErr: "expected </Directory> but saw </Location>"},
		{name: "missing >", files: map[string]string{"site.conf": "<Directory /x\n</Directory>\n"},
			file: "site.conf", line: 1, wantErr: "missing closing '>'"},
		{name: "virtual host inside IfModule mod_python.c", files: map[string]string{"site.conf": "<IfModule mod_python.c>\n<VirtualHost *:80>\nSetHandler mod_python\n</VirtualHost>\n</IfModule>\n"},
			file: "site.conf", line: 3, wantErr: "hides the whole <VirtualHost>"},
		{name: "no via", files: map[string]string{"site.conf": ""}, opts: func(o *Options) { o.Via = "" },
			wantErr: `rewrite: Via ""`},
		{name: "MPGATE defined", files: map[string]string{"site.conf": ""}, opts: func(o *Options) { o.Defines = []string{"MPGATE"} },
			wantErr: "MPGATE is for mpgate only"},
		{name: "socket too long", files: map[string]string{"site.conf": ""}, opts: func(o *Options) { o.Socket = "/" + strings.Repeat("s", 107) },
			wantErr: "unix socket paths hold at most 107"},
		{name: "fcgid without Mpgate", files: map[string]string{"site.conf": ""}, opts: func(o *Options) { o.Via = ViaFcgid },
			wantErr: "Mpgate and RunDir are required"},
		{name: "fcgid argument with a space", files: map[string]string{"site.conf": ""},
			opts:    func(o *Options) { o.Via, o.Mpgate, o.RunDir = ViaFcgid, "/usr/bin/mpgate", "/run/my site" },
			wantErr: `argument "/run/my site"`},
		{name: "fcgid command line too long", files: map[string]string{"site.conf": ""},
			opts: func(o *Options) {
				o.Via, o.Mpgate, o.RunDir = ViaFcgid, "/usr/bin/mpgate", "/"+strings.Repeat("r", 500)
			},
			wantErr: "mod_fcgid accepts at most 511"},
		{name: "OutDir not empty", files: map[string]string{"site.conf": "", "out/old.conf": ""},
			wantErr: "is not empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := shortTempDir(t)
			writeTree(t, dir, tt.files)
			opts := proxyOptions(dir)
			if tt.opts != nil {
				tt.opts(&opts)
			}
			_, err := Site(filepath.Join(dir, "site.conf"), opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Site: err = %v, want one containing %q", err, tt.wantErr)
			}
			var e *Error
			if tt.file == "" {
				if errors.As(err, &e) {
					t.Errorf("Site: err = %#v, want an error that is no *Error", err)
				}
				return
			}
			if !errors.As(err, &e) || e.File != filepath.Join(dir, tt.file) || e.Line != tt.line {
				t.Errorf("Site: err = %v, want an *Error at %s:%d", err, tt.file, tt.line)
			}
			if _, serr := os.Stat(opts.OutDir); tt.name != "OutDir not empty" && !errors.Is(serr, fs.ErrNotExist) {
				t.Errorf("Site failed but created OutDir %s", opts.OutDir)
			}
		})
	}
}
