package config

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzFiles are what Include can reach while fuzzing; nothing is read from
// the real disk.
var fuzzFiles = map[string]string{
	"/etc/apache2/self.conf":        "Include self.conf\nInclude self.conf\n",
	"/etc/apache2/conf.d/a.conf":    "<Directory /srv/www>\nPythonHandler a\n</Directory>\n",
	"/etc/apache2/conf.d/b.conf":    "<IfModule mod_python.c>\nPythonOption b 1\n",
	"/etc/apache2/envvars":          "export APACHE_LOG_DIR=/var/log/apache2\n",
	"/etc/apache2/sites/broken.txt": "<VirtualHost *:80>\n",
}

var fuzzQueries = []Query{
	{URI: "/", Filename: "/srv/www/"},
	{Host: "a.example", LocalAddr: "127.0.0.1", LocalPort: 80, URI: "/x/y.py", Filename: "/srv/www/x/y.py"},
	{Host: "b", LocalAddr: "::1", LocalPort: 443, URI: "//a//b/../c", Filename: "/srv//www/./a/../b.tar.gz"},
	{VHost: "fuzz.conf:1", URI: "/loc", Filename: "relative"},
}

func FuzzParse(f *testing.F) {
	for _, dir := range []string{"testdata/explain", "testdata/check"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.txt"))
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			conf, _, _ := strings.Cut(string(b), "\n-- ")
			f.Add([]byte(conf))
		}
	}
	for _, s := range []string{
		"Include self.conf\n", "Include conf.d\n", "IncludeOptional */*.conf\n", "Include sites/*\n",
		"<IfDefine X>\n<Directory />\n</IfDefine>\n", "PythonHandler a | .py .b\n",
		"<Directory ~ \"(\">\n</Directory>\n", "ServerRoot /etc/apache2\nInclude conf.d/*.conf\n",
		"Define A ${A}${A}\nPythonOption a ${A}\n", "<VirtualHost [::1]:80 *:* _default_>\nServerAlias *\n</VirtualHost>\n",
	} {
		f.Add([]byte(s))
	}
	fsys := newMemFS(fuzzFiles)
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > 1<<16 {
			return
		}
		c, err := Parse("fuzz.conf", src, Options{ServerRoot: "/etc/apache2", fs: fsys})
		if c == nil {
			t.Fatalf("Parse returned a nil Config (err %v)", err)
		}
		if (err == nil) != (len(c.Errors) == 0) {
			t.Fatalf("Parse error %v does not agree with Errors %v", err, c.Errors)
		}
		for _, q := range fuzzQueries {
			m := c.Lookup(q)
			if m == nil || m.VHost == nil {
				t.Fatalf("Lookup(%+v) = %v", q, m)
			}
			for _, p := range runOrder {
				m.Phase(p)
			}
			if err := m.Explain(io.Discard); err != nil {
				t.Fatal(err)
			}
		}
		for _, v := range c.VirtualHosts() {
			c.Lookup(Query{VHost: v.ID(), URI: "/", Filename: "/"})
		}
		_ = Check(c, io.Discard)
	})
}
