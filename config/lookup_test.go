package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

const benchConf = `ServerName main.example
PythonOption shared main
<Directory />
    AllowOverride None
</Directory>
<Directory /srv/www>
    SetHandler mod_python
    PythonHandler app
    PythonOption dir www
</Directory>
<VirtualHost *:80>
    ServerName a.example
    ServerAlias *.a.example
    <Directory /srv/a>
        SetHandler mod_python
        PythonHandler a::handler
        PythonHandler a_py | .py
        <Files "*.py">
            PythonFixupHandler fix
        </Files>
    </Directory>
    <Location /a/api>
        PythonOption api yes
    </Location>
    <DirectoryMatch "^/srv/a/v[0-9]+/">
        PythonHandler versioned
    </DirectoryMatch>
</VirtualHost>
<VirtualHost *:80>
    ServerName b.example
    AddHandler mod_python .py
    PythonHandler b
    <Location /b/loc>
        SetHandler mod_python
        PythonHandler loc
    </Location>
</VirtualHost>
`

var lookupQueries = []Query{
	{Host: "a.example", LocalAddr: "10.0.0.1", LocalPort: 80, URI: "/a/api/x.py", Filename: "/srv/a/api/x.py"},
	{Host: "www.a.example", LocalAddr: "10.0.0.1", LocalPort: 80, URI: "/a/v2/x.py", Filename: "/srv/a/v2/x.py"},
	{Host: "b.example", LocalAddr: "10.0.0.1", LocalPort: 80, URI: "/b/x.py", Filename: "/srv/b/x.py"},
	{Host: "b.example", LocalAddr: "10.0.0.1", LocalPort: 80, URI: "/b/loc/x", Filename: "/srv/b/loc"},
	{Host: "main.example", LocalAddr: "10.0.0.1", LocalPort: 8080, URI: "/x.py", Filename: "/srv/www/x.py"},
}

func TestLookupCachedDoesNotAllocate(t *testing.T) {
	c := mustParse(t, benchConf, nil)
	for _, q := range lookupQueries {
		first := c.Lookup(q)
		allocs := testing.AllocsPerRun(100, func() {
			if c.Lookup(q) != first {
				t.Fatalf("Lookup(%+v) returned a different *Merged on a cache hit", q)
			}
		})
		if allocs != 0 && !raceEnabled {
			t.Errorf("Lookup(%+v) allocates %.0f times on a cache hit, want 0", q, allocs)
		}
		for _, p := range runOrder {
			if allocs := testing.AllocsPerRun(10, func() { first.Phase(p) }); allocs != 0 && !raceEnabled {
				t.Errorf("Phase(%q) allocates %.0f times, want 0", p, allocs)
			}
		}
	}
}

// TestLookupSameAsUncached checks that cached answers equal fresh ones.
func TestLookupSameAsUncached(t *testing.T) {
	c := mustParse(t, benchConf, nil)
	for _, q := range lookupQueries {
		c.Lookup(q) // fill the cache
		cached := explain(t, c.Lookup(q))
		fresh := explain(t, mustParse(t, benchConf, nil).Lookup(q))
		if cached != fresh {
			t.Errorf("Lookup(%+v) cached:\n%s\nfresh:\n%s", q, cached, fresh)
		}
	}
}

func TestLookupConcurrent(t *testing.T) {
	c := mustParse(t, benchConf, nil)
	want := make([]string, len(lookupQueries))
	for i, q := range lookupQueries {
		want[i] = explain(t, mustParse(t, benchConf, nil).Lookup(q))
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for n := 0; n < 200; n++ {
				i := (g + n) % len(lookupQueries)
				q := lookupQueries[i]
				if n%3 == 0 { // distinct file names fill the variant cache
					q.Filename = fmt.Sprintf("/srv/b/f%d-%d.py", g, n)
					c.Lookup(q)
					continue
				}
				var b strings.Builder
				if err := c.Lookup(q).Explain(&b); err != nil {
					errs <- err.Error()
					return
				}
				if b.String() != want[i] {
					errs <- fmt.Sprintf("Lookup(%+v) under concurrency differs", q)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestCacheKeyNotAmbiguous: a variant key is a core key followed by the file
// name, so no core key may be a prefix of another; otherwise a file name
// holding encoded section numbers could fetch another section set's merge.
func TestCacheKeyNotAmbiguous(t *testing.T) {
	v := &VirtualHost{index: 1}
	sets := [][]uint64{nil, {0}, {5}, {5, 127}, {5, 128}, {5, 255, 1}, {300}, {1 << 40}, {1<<40 + 1, 3}}
	secs := func(keys []uint64) []*section {
		var out []*section
		for _, k := range keys {
			out = append(out, &section{key: k})
		}
		return out
	}
	bad := &htFile{key: 1<<40 + 7}
	for i, a := range sets {
		for j, b := range sets {
			if i == j {
				continue
			}
			ka, kb := string(appendCoreKey(nil, v, secs(a), nil)), string(appendCoreKey(nil, v, secs(b), nil))
			if strings.HasPrefix(kb, ka) {
				t.Errorf("key of %v is a prefix of the key of %v", a, b)
			}
			ka = string(appendCoreKey(nil, v, secs(a), bad))
			if strings.HasPrefix(kb, ka) || strings.HasPrefix(ka, kb) {
				t.Errorf("key of %v with a broken .htaccess and key of %v: one is a prefix of the other", a, b)
			}
			if strings.HasPrefix(kb, ka) {
				t.Errorf("key of %v is a prefix of the key of %v", a, b)
			}
		}
	}
}

func TestLookupCacheBounded(t *testing.T) {
	c := mustParse(t, benchConf, nil)
	for i := 0; i < 3*maxCacheEntries; i++ {
		c.Lookup(Query{Host: "b.example", LocalPort: 80, URI: "/b/x", Filename: fmt.Sprintf("/srv/b/%d.py", i)})
		c.Lookup(Query{Host: "a.example", LocalPort: 80, URI: fmt.Sprintf("/a/%d", i), Filename: fmt.Sprintf("/srv/a/v%d/x.py", i)})
	}
	c.cache.mu.RLock()
	defer c.cache.mu.RUnlock()
	if n := len(c.cache.variants); n > maxCacheEntries {
		t.Errorf("variant cache holds %d entries, want at most %d", n, maxCacheEntries)
	}
	if n := len(c.cache.cores); n > maxCacheEntries {
		t.Errorf("core cache holds %d entries, want at most %d", n, maxCacheEntries)
	}
}

func TestPhase(t *testing.T) {
	c := mustParse(t, `ServerName s.example
PythonInitHandler serverinit
PythonTransHandler trans
PythonInterpPerDirective On
<Directory /srv/www>
    SetHandler mod_python
    PythonHandlerModule everything
    PythonHandler py | .py
</Directory>
`, nil)
	m := c.Lookup(Query{URI: "/x.py", Filename: "/srv/www/x.py"})
	tests := []struct {
		phase, handler, interp string
	}{
		{"PythonInitHandler", "serverinit", interpMain},
		{"PythonTransHandler", "trans", interpMain},
		{"PythonPostReadRequestHandler", "", interpMain},
		{"PythonFixupHandler", "everything", "/srv/www/"},
		{"PythonHandler", "py", "/srv/www/"},
	}
	for _, tt := range tests {
		hs, interp := m.Phase(tt.phase)
		got := ""
		if len(hs) > 0 {
			got = hs[0].Handler
		}
		if got != tt.handler || interp != tt.interp {
			t.Errorf("Phase(%q) = %q in %q, want %q in %q", tt.phase, got, interp, tt.handler, tt.interp)
		}
	}
	if m.Extension != ".py" {
		t.Errorf("Extension = %q, want .py", m.Extension)
	}
	if hs := m.Handlers["PythonFixupHandler"]; len(hs) != 1 || !hs[0].Silent {
		t.Errorf("Handlers[PythonFixupHandler] = %+v, want one silent entry", hs)
	}
}

// TestLoad reads from disk: the default envvars next to ServerRoot, Include
// relative to ServerRoot, and the public accessors.
func TestLoad(t *testing.T) {
	root := t.TempDir()
	write := func(name, data string) {
		t.Helper()
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("envvars", "export APACHE_LOG_DIR=/var/log/test\n")
	write("apache2.conf", "ServerName main.example\nPythonImport first main.example\nPythonImport second main.example\nIncludeOptional sites-enabled/*.conf\n")
	write("sites-enabled/a.conf", "<VirtualHost *:80>\nServerName a.example\nPythonOption log ${APACHE_LOG_DIR}\n</VirtualHost>\n")
	c, err := Load(filepath.Join(root, "apache2.conf"), Options{ServerRoot: root, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	vs := c.VirtualHosts()
	if len(vs) != 1 || vs[0].ServerName != "a.example" || vs[0].ID() != filepath.Join(root, "sites-enabled/a.conf")+":1" {
		t.Fatalf("VirtualHosts() = %+v", vs)
	}
	if want := []KV{{"log", "/var/log/test"}}; !reflect.DeepEqual(vs[0].Options, want) {
		t.Errorf("VirtualHosts()[0].Options = %v, want %v", vs[0].Options, want)
	}
	if got := c.MainServer(); got.IsVirtual || got.ID() != "" || got.ServerName != "main.example" {
		t.Errorf("MainServer() = %+v", got)
	}
	if im := c.Imports(); len(im) != 2 || im[0].Module != "second" || im[1].Module != "first" {
		t.Errorf("Imports() = %+v, want second then first", im)
	}
	if _, err := Load(filepath.Join(root, "missing.conf"), Options{ServerRoot: root}); err == nil {
		t.Error("Load(missing file) succeeded")
	}
}

func BenchmarkLookup(b *testing.B) {
	c, err := Parse("httpd.conf", []byte(benchConf), Options{ServerRoot: "/etc/apache2", fs: newMemFS(nil)})
	if err != nil {
		b.Fatal(err)
	}
	for _, q := range lookupQueries {
		c.Lookup(q)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Lookup(lookupQueries[i%len(lookupQueries)])
	}
}

func BenchmarkLookupParallel(b *testing.B) {
	c, err := Parse("httpd.conf", []byte(benchConf), Options{ServerRoot: "/etc/apache2", fs: newMemFS(nil)})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			c.Lookup(lookupQueries[i%len(lookupQueries)])
			i++
		}
	})
}
