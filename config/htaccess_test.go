package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// htQuery asks for a file below /srv/www.
func htQuery(file string) Query {
	return Query{LocalAddr: "10.0.0.1", LocalPort: 80, URI: strings.TrimPrefix(file, "/srv/www"), Filename: file}
}

func optionOf(m *Merged, key string) string {
	v, _ := lookupKV(m.Options, key)
	return v
}

func TestHtaccessOverride(t *testing.T) {
	const site = "<Directory />\n    AllowOverride None\n</Directory>\n<Directory /srv/www>\n    SetHandler mod_python\n    PythonHandler app\n    PythonOption who dir\n"
	tests := []struct {
		name     string
		conf     string // completes <Directory /srv/www>
		files    map[string]string
		file     string
		who      string // PythonOption who
		handler  string // first PythonHandler, "dir" part after a space
		status   int
		errText  string
		htaccess int  // files read
		noRoot   bool // without <Directory /> AllowOverride None
	}{
		{name: "none: never read", conf: "</Directory>\n",
			files: map[string]string{"/srv/www/sub/.htaccess": "PythonOption who ht\n"},
			file:  "/srv/www/sub/x.py", who: "dir", handler: "app /srv/www/"},
		{name: "authconfig grants python directives", conf: "AllowOverride AuthConfig\n</Directory>\n",
			files: map[string]string{"/srv/www/sub/.htaccess": "PythonOption who ht\nPythonHandler sub\n"},
			file:  "/srv/www/sub/x.py", who: "ht", handler: "sub /srv/www/sub/", htaccess: 1},
		{name: "authconfig does not grant AddHandler", conf: "AllowOverride AuthConfig\n</Directory>\n",
			files: map[string]string{"/srv/www/sub/.htaccess": "PythonOption who ht\nAddHandler mod_python .py\n"},
			file:  "/srv/www/sub/x.py", status: 500, errText: "/srv/www/sub/.htaccess:2: AddHandler: not allowed here", htaccess: 1},
		{name: "error only below the file", conf: "AllowOverride AuthConfig\n</Directory>\n",
			files: map[string]string{"/srv/www/sub/.htaccess": "AddHandler mod_python .py\n"},
			file:  "/srv/www/x.py", who: "dir", handler: "app /srv/www/"},
		{name: "unset reads and refuses", conf: "</Directory>\n", noRoot: true,
			files: map[string]string{"/srv/www/sub/.htaccess": "PythonOption who ht\n"},
			file:  "/srv/www/sub/x.py", status: 500, errText: "/srv/www/sub/.htaccess:1: PythonOption: not allowed here", htaccess: 1},
		{name: "list grants one by one", conf: "AllowOverride None\nAllowOverrideList PythonOption\n</Directory>\n",
			files: map[string]string{"/srv/www/sub/.htaccess": "PythonOption who ht\n"},
			file:  "/srv/www/sub/x.py", who: "ht", handler: "app /srv/www/", htaccess: 1},
		{name: "unlisted is an error", conf: "AllowOverride None\nAllowOverrideList PythonOption\n</Directory>\n",
			files: map[string]string{"/srv/www/sub/.htaccess": "PythonOption who ht\nPythonHandler sub\n"},
			file:  "/srv/www/sub/x.py", status: 500, errText: "/srv/www/sub/.htaccess:2: PythonHandler: not allowed here", htaccess: 1},
		{name: "rsrc directive", conf: "AllowOverride All\n</Directory>\n",
			files: map[string]string{"/srv/www/.htaccess": "PythonImport mod x\n"},
			file:  "/srv/www/x.py", status: 500, errText: "/srv/www/.htaccess:1: PythonImport: not allowed here", htaccess: 1},
		{name: "alias not in htaccess", conf: "AllowOverride All\n</Directory>\n",
			files: map[string]string{"/srv/www/.htaccess": "Alias /a /b\n"},
			file:  "/srv/www/x.py", status: 500, errText: "/srv/www/.htaccess:1: Alias: not allowed here", htaccess: 1},
		{name: "include not in htaccess", conf: "AllowOverride All\n</Directory>\n",
			files: map[string]string{"/srv/www/.htaccess": "Include /etc/x.conf\n"},
			file:  "/srv/www/x.py", status: 500, errText: "/srv/www/.htaccess:1: Include: not allowed here", htaccess: 1},
		{name: "directory section not in htaccess", conf: "AllowOverride All\n</Directory>\n",
			files: map[string]string{"/srv/www/.htaccess": "<Directory /x>\n</Directory>\n"},
			file:  "/srv/www/x.py", status: 500, errText: "/srv/www/.htaccess:1: <Directory: not allowed here", htaccess: 1},
		{name: "nonfatal override skips", conf: "AllowOverride AuthConfig Nonfatal=Override\n</Directory>\n",
			files: map[string]string{"/srv/www/.htaccess": "SetHandler none\nPythonOption who ht\n"},
			file:  "/srv/www/x.py", who: "ht", handler: "app /srv/www/", htaccess: 1},
		{name: "conditionals", conf: "AllowOverride All\n</Directory>\n",
			files: map[string]string{"/srv/www/.htaccess": "<IfModule mod_python.c>\nPythonOption who ifmodule\n</IfModule>\n<IfDefine MPGATE>\nPythonHandler guarded\n</IfDefine>\n<IfDefine !MPGATE>\nNonsense\n</IfDefine>\n"},
			file:  "/srv/www/x.py", who: "ifmodule", handler: "guarded /srv/www/", htaccess: 1},
		{name: "files in htaccess", conf: "AllowOverride All\n</Directory>\n",
			files: map[string]string{"/srv/www/.htaccess": "<Files x.py>\nPythonOption who files\nPythonHandler f\n</Files>\n"},
			file:  "/srv/www/x.py", who: "files", handler: "f /srv/www/", htaccess: 1},
		{name: "files in htaccess other file", conf: "AllowOverride All\n</Directory>\n",
			files: map[string]string{"/srv/www/.htaccess": "<FilesMatch \"^x\\.py$\">\nPythonOption who files\n</FilesMatch>\n"},
			file:  "/srv/www/y.py", who: "dir", handler: "app /srv/www/", htaccess: 1},
		{name: "access file names in order", conf: "AllowOverride All\n</Directory>\nAccessFileName .acl .htaccess\n",
			files: map[string]string{"/srv/www/.htaccess": "PythonOption who htaccess\n", "/srv/www/.acl": "PythonOption who acl\n", "/srv/www/sub/.htaccess": "PythonOption who sub\n"},
			file:  "/srv/www/sub/x.py", who: "sub", handler: "app /srv/www/", htaccess: 2},
		{name: "after directory of same depth", conf: "AllowOverride All\n</Directory>\n<Directory /srv/www/sub>\nPythonOption who subdir\n</Directory>\n",
			files: map[string]string{"/srv/www/sub/.htaccess": "PythonOption who ht\n"},
			file:  "/srv/www/sub/x.py", who: "ht", handler: "app /srv/www/", htaccess: 1},
		{name: "before deeper directory", conf: "AllowOverride All\n</Directory>\n<Directory /srv/www/sub/deep>\nPythonOption who deep\n</Directory>\n",
			files: map[string]string{"/srv/www/sub/.htaccess": "PythonOption who ht\n"},
			file:  "/srv/www/sub/deep/x.py", who: "deep", handler: "app /srv/www/", htaccess: 1},
		{name: "before directorymatch", conf: "AllowOverride All\n</Directory>\n<DirectoryMatch ^/srv/www/s>\nPythonOption who match\n</DirectoryMatch>\n",
			files: map[string]string{"/srv/www/sub/.htaccess": "PythonOption who ht\n"},
			file:  "/srv/www/sub/x.py", who: "match", handler: "app /srv/www/", htaccess: 1},
		{name: "before location", conf: "AllowOverride All\n</Directory>\n<Location /sub>\nPythonOption who loc\n</Location>\n",
			files: map[string]string{"/srv/www/sub/.htaccess": "PythonOption who ht\n"},
			file:  "/srv/www/sub/x.py", who: "loc", handler: "app /srv/www/", htaccess: 1},
		{name: "deeper directory resets override", conf: "AllowOverride All\n</Directory>\n<Directory /srv/www/sub>\nAllowOverride None\n</Directory>\n",
			files: map[string]string{"/srv/www/.htaccess": "PythonOption who top\n", "/srv/www/sub/.htaccess": "PythonOption who sub\n"},
			file:  "/srv/www/sub/x.py", who: "top", handler: "app /srv/www/", htaccess: 1},
		{name: "if in htaccess", conf: "AllowOverride All\n</Directory>\n",
			files: map[string]string{"/srv/www/.htaccess": "<If \"%{REQUEST_URI} =~ m#^/x#\">\nPythonOption who if\n</If>\n"},
			file:  "/srv/www/x.py", who: "if", handler: "app /srv/www/", htaccess: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := site + tt.conf
			if tt.noRoot {
				conf = strings.Replace(conf, "<Directory />\n    AllowOverride None\n</Directory>\n", "", 1)
			}
			c := mustParse(t, conf, tt.files)
			m := c.Lookup(htQuery(tt.file))
			if len(m.Htaccess) != tt.htaccess {
				t.Errorf("Lookup(%s).Htaccess = %q, want %d files", tt.file, m.Htaccess, tt.htaccess)
			}
			if tt.status != 0 {
				if m.Err == nil || m.Status != tt.status || m.Err.Error() != tt.errText {
					t.Fatalf("Lookup(%s) = status %d, err %v; want %d, %s", tt.file, m.Status, m.Err, tt.status, tt.errText)
				}
				return
			}
			if m.Err != nil {
				t.Fatalf("Lookup(%s).Err = %v", tt.file, m.Err)
			}
			if got := optionOf(m, "who"); got != tt.who {
				t.Errorf("Lookup(%s) PythonOption who = %q, want %q\n%s", tt.file, got, tt.who, explain(t, m))
			}
			hs := m.Handlers["PythonHandler"]
			got := ""
			if len(hs) > 0 {
				got = hs[0].Handler + " " + hs[0].Directory
			}
			if got != tt.handler {
				t.Errorf("Lookup(%s) PythonHandler = %q, want %q", tt.file, got, tt.handler)
			}
		})
	}
}

// writeFile writes name under dir, creating directories.
func writeFile(t *testing.T, name, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// diskSite writes a site whose .htaccess files are read from the disk.
func diskSite(t testing.TB, stat bool) (*Config, string) {
	dir := t.TempDir()
	root, _ := filepath.EvalSymlinks(dir)
	conf := fmt.Sprintf("<Directory />\n AllowOverride None\n</Directory>\n<Directory %s/www>\n AllowOverride All\n SetHandler mod_python\n PythonHandler app\n</Directory>\n", root)
	opts := Options{ServerRoot: root, HtaccessStat: stat}
	c, err := Parse("httpd.conf", []byte(conf), opts)
	if err != nil {
		t.Fatal(err)
	}
	// Set before the first Lookup starts the watcher's goroutine.
	c.ht.handled = make(chan struct{}, 1)
	t.Cleanup(func() { c.Close() })
	return c, root
}

// waitOption waits until Lookup gives PythonOption who = want: inotify
// delivers events asynchronously, so under it a change shows once the
// watcher has applied its event (each wakes this wait); with stat it
// shows at once.
func waitOption(t *testing.T, c *Config, q Query, want string) {
	t.Helper()
	timeout := time.NewTimer(5 * time.Second)
	defer timeout.Stop()
	for {
		m := c.Lookup(q)
		got := optionOf(m, "who")
		if m.Err != nil {
			got = "error: " + m.Err.Error()
		}
		if got == want {
			return
		}
		select {
		case <-c.ht.handled:
		case <-timeout.C:
			t.Fatalf("Lookup(%s): PythonOption who = %q, want %q", q.Filename, got, want)
		}
	}
}

func TestHtaccessChanges(t *testing.T) {
	for _, mode := range []string{"inotify", "stat"} {
		t.Run(mode, func(t *testing.T) {
			c, root := diskSite(t, mode == "stat")
			www := root + "/www"
			writeFile(t, www+"/a/b/x.py", "")
			writeFile(t, www+"/other/y.py", "")
			qa := Query{LocalAddr: "127.0.0.1", URI: "/a/b/x.py", Filename: www + "/a/b/x.py"}
			qo := Query{LocalAddr: "127.0.0.1", URI: "/other/y.py", Filename: www + "/other/y.py"}
			waitOption(t, c, qa, "")

			writeFile(t, www+"/a/.htaccess", "PythonOption who a1\n")
			waitOption(t, c, qa, "a1")
			other := c.Lookup(qo)

			writeFile(t, www+"/a/.htaccess", "PythonOption who a-two\n")
			waitOption(t, c, qa, "a-two")
			if c.Lookup(qo) != other {
				t.Errorf("a change in %s/a replaced the configuration of %s", www, qo.Filename)
			}

			writeFile(t, www+"/a/b/.htaccess", "PythonOption who b\n")
			waitOption(t, c, qa, "b")

			writeFile(t, www+"/a/b/.htaccess", "PythonOption who b\nPythonImport x y\n")
			waitOption(t, c, qa, "error: "+www+"/a/b/.htaccess:2: PythonImport: not allowed here")
			if m := c.Lookup(qo); m.Err != nil {
				t.Errorf("a broken %s/a/b/.htaccess refuses %s: %v", www, qo.Filename, m.Err)
			}

			if err := os.Remove(www + "/a/b/.htaccess"); err != nil {
				t.Fatal(err)
			}
			waitOption(t, c, qa, "a-two")

			// Replacing a directory by renames, as deployments do.
			writeFile(t, root+"/new-a/b/x.py", "")
			writeFile(t, root+"/new-a/.htaccess", "PythonOption who new\n")
			if err := os.Rename(www+"/a", root+"/old-a"); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(root+"/new-a", www+"/a"); err != nil {
				t.Fatal(err)
			}
			waitOption(t, c, qa, "new")
		})
	}
}

func TestHtaccessAfterClose(t *testing.T) {
	c, root := diskSite(t, false)
	www := root + "/www"
	writeFile(t, www+"/.htaccess", "PythonOption who one\n")
	q := Query{LocalAddr: "127.0.0.1", URI: "/x.py", Filename: www + "/x.py"}
	waitOption(t, c, q, "one")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, www+"/.htaccess", "PythonOption who second\n")
	if got := optionOf(c.Lookup(q), "who"); got != "second" {
		t.Errorf("after Close, Lookup sees PythonOption who = %q, want %q (checked with stat)", got, "second")
	}
}

func TestLookupCachedDoesNotAllocateWithHtaccess(t *testing.T) {
	c, root := diskSite(t, false)
	www := root + "/www"
	writeFile(t, www+"/.htaccess", "PythonOption who top\n")
	writeFile(t, www+"/a/b/.htaccess", "PythonOption who b\n")
	q := Query{LocalAddr: "127.0.0.1", URI: "/a/b/x.py", Filename: www + "/a/b/x.py"}
	waitOption(t, c, q, "b")
	first := c.Lookup(q)
	allocs := testing.AllocsPerRun(100, func() {
		if c.Lookup(q) != first {
			t.Fatal("Lookup returned a different *Merged on a cache hit")
		}
	})
	if allocs != 0 && !raceEnabled {
		t.Errorf("Lookup with watched .htaccess files allocates %.0f times on a cache hit, want 0", allocs)
	}
}

func benchmarkHtaccess(b *testing.B, files, stat bool) {
	c, root := diskSite(b, stat)
	www := root + "/www"
	if err := os.MkdirAll(www+"/a/b/c", 0o755); err != nil {
		b.Fatal(err)
	}
	if files {
		for _, d := range []string{www, www + "/a", www + "/a/b/c"} {
			if err := os.WriteFile(d+"/.htaccess", []byte("PythonOption level "+d+"\n"), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	q := Query{LocalAddr: "127.0.0.1", URI: "/a/b/c/x.py", Filename: www + "/a/b/c/x.py"}
	c.Lookup(q)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Lookup(q)
	}
}

// BenchmarkLookupHtaccess measures a cached Lookup through four directory
// levels where .htaccess files are allowed: three files, watched.
func BenchmarkLookupHtaccess(b *testing.B) { benchmarkHtaccess(b, true, false) }

// BenchmarkLookupHtaccessNone is the same walk where no file exists.
func BenchmarkLookupHtaccessNone(b *testing.B) { benchmarkHtaccess(b, false, false) }

// BenchmarkLookupHtaccessStat checks the files with stat instead of inotify.
func BenchmarkLookupHtaccessStat(b *testing.B) { benchmarkHtaccess(b, true, true) }

func FuzzHtaccess(f *testing.F) {
	for _, s := range []string{
		"PythonHandler a | .py\nPythonOption a b\n", "<Files x>\nPythonDebug On\n</Files>\n",
		"<If \"%{REQUEST_URI} =~ m#^/x# && -f %{REQUEST_FILENAME}\">\nPythonOption a\n</If>\n<Else>\n</Else>\n",
		"<IfModule mod_python.c>\nPythonImport a b\n</IfModule>\n", "Include x\n<Directory />\n", "</Files>\n<Files\n",
		"<If \"%{HTTP:X} in {'a', 'b'} || !(%{QUERY_STRING} -strmatch '*a*')\">\n</If>\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > 1<<14 {
			return
		}
		for _, conf := range []string{"AllowOverride All", "AllowOverride AuthConfig Nonfatal=All", "AllowOverride None\nAllowOverrideList PythonOption SetHandler"} {
			c, err := Parse("httpd.conf", []byte("<Directory /srv>\n"+conf+"\n</Directory>\n"),
				Options{ServerRoot: "/etc/apache2", fs: newMemFS(map[string]string{"/srv/www/.htaccess": string(src)})})
			if err != nil {
				t.Fatal(err)
			}
			m := c.Lookup(Query{URI: "/x.py", Filename: "/srv/www/x.py"})
			if m.Err != nil && (m.Status != 500 || m.Err.File != "/srv/www/.htaccess") {
				t.Fatalf("broken .htaccess gives status %d, error %v", m.Status, m.Err)
			}
			for _, p := range runOrder {
				m.Phase(p)
			}
			if err := m.Explain(discard{}); err != nil {
				t.Fatal(err)
			}
		}
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
