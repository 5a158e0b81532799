// This file checks the snippets in apache-conf/ with apache2 -t, alone and with a site rewritten
// to refer to the daemon through their variables.

package rewrite

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	apacheconf "github.com/mpgate/mpgate/apache-conf"
)

// snippetBaseModules are loaded before a snippet in every check; the snippet loads the rest.
var snippetBaseModules = []string{"mpm_event", "authz_core", "mime"}

type snippetEnv struct {
	dir     string
	defines string // Define lines for the snippet's variables
	bin     string
}

func newSnippetEnv(t *testing.T) snippetEnv {
	dir := shortTempDir(t)
	run := filepath.Join(dir, "run")
	bin := filepath.Join(dir, "mpgate")
	if err := os.MkdirAll(run, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return snippetEnv{
		dir: dir,
		bin: bin,
		defines: fmt.Sprintf("Define MPGATE_BIN %s\nDefine MPGATE_CONFIG %s\nDefine MPGATE_RUN %s\n",
			bin, filepath.Join(dir, "site.conf"), run),
	}
}

func TestSnippetFiles(t *testing.T) {
	paths, err := filepath.Glob("../apache-conf/*.conf")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range paths {
		names = append(names, filepath.Base(p))
		disk, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		embedded, err := apacheconf.FS.ReadFile(filepath.Base(p))
		if err != nil {
			t.Errorf("apacheconf.FS lacks %s: %v", filepath.Base(p), err)
		} else if string(embedded) != string(disk) {
			t.Errorf("apacheconf.FS's %s differs from the file", filepath.Base(p))
		}
		if !strings.HasPrefix(string(disk), "# "+filepath.Base(p)+": ") {
			t.Errorf("%s does not start with a header comment naming it", p)
		}
	}
	// mpgate-cgi.conf is checked by snippet_cgi_test.go.
	if want := []string{"mpgate-cgi.conf", apacheconf.Fcgid, apacheconf.Proxy}; !slices.Equal(names, want) {
		t.Errorf("apache-conf/*.conf = %v, want %v (each snippet needs a check here)", names, want)
	}
}

func TestSnippets(t *testing.T) {
	for _, name := range []string{apacheconf.Proxy, apacheconf.Fcgid} {
		path, err := filepath.Abs(filepath.Join("..", "apache-conf", name))
		if err != nil {
			t.Fatal(err)
		}
		include := fmt.Sprintf("Include %q\n", path)
		tests := []struct {
			name    string
			modules []string
			conf    string
			wantErr string // a substring of apache2 -t's output when it must fail
		}{
			{name: "loads its modules", modules: snippetBaseModules, conf: "@DEFINES@" + include},
			{name: "modules already loaded", modules: testModules, conf: "@DEFINES@" + include},
			{name: "two sites", modules: snippetBaseModules,
				conf: "@DEFINES@" + include + "Define MPGATE_RUN @DIR@/run2\n" + include},
			{name: "variables missing", modules: snippetBaseModules, conf: include, wantErr: "Define MPGATE_"},
		}
		for _, tt := range tests {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				e := newSnippetEnv(t)
				extra := strings.NewReplacer("@DEFINES@", e.defines, "@DIR@", e.dir).Replace(tt.conf)
				out, ok := apacheTest(t, e.dir, privateConf(e.dir, tt.modules, extra), nil, nil)
				switch {
				case tt.wantErr == "" && !ok:
					t.Errorf("apache2 -t with %s failed:\n%s", name, out)
				case tt.wantErr != "" && (ok || !strings.Contains(out, tt.wantErr)):
					t.Errorf("apache2 -t with %s: got ok=%v\n%s\nwant a failure saying %q", name, ok, out, tt.wantErr)
				}
			})
		}
	}
}

// TestSnippetsWithSite checks a site rewritten to name the daemon only through the snippets'
// variables, so that one rewritten file serves wherever the variables point.
func TestSnippetsWithSite(t *testing.T) {
	for _, via := range []Via{ViaProxy, ViaFcgid} {
		t.Run(string(via), func(t *testing.T) {
			t.Parallel()
			e := newSnippetEnv(t)
			site := filepath.Join(e.dir, "src", "site.conf")
			if err := os.MkdirAll(filepath.Dir(site), 0o755); err != nil {
				t.Fatal(err)
			}
			conf := "<VirtualHost *:80>\n    ServerName example.com\n    <Directory /srv/www>\n        SetHandler mod_python\n        PythonHandler hello\n    </Directory>\n    <Location /pub>\n        AddHandler mod_python .py\n    </Location>\n</VirtualHost>\n"
			if err := os.WriteFile(site, []byte(conf), 0o644); err != nil {
				t.Fatal(err)
			}
			res, err := Site(site, Options{
				OutDir: filepath.Join(e.dir, "out"),
				Via:    via,
				Socket: "${MPGATE_RUN}/mpgate.sock",
				Mpgate: "${MPGATE_BIN}",
				Config: "${MPGATE_CONFIG}",
				RunDir: "${MPGATE_RUN}",
			})
			if err != nil {
				t.Fatal(err)
			}
			snippet, err := filepath.Abs(filepath.Join("..", "apache-conf", "mpgate-"+string(via)+".conf"))
			if err != nil {
				t.Fatal(err)
			}
			extra := fmt.Sprintf("%sInclude %q\nInclude %q\n", e.defines, snippet, res.Main)
			if via == ViaFcgid {
				// The snippet's shorthand for the same command line.
				extra += "<Location /short>\n    Options +ExecCGI\n    SetHandler fcgid-script\n    FcgidWrapper \"${MPGATE_FCGID}\" virtual\n</Location>\n"
			}
			if out, ok := apacheTest(t, e.dir, privateConf(e.dir, snippetBaseModules, extra), nil, nil); !ok {
				t.Errorf("apache2 -t with the snippet and the rewritten site failed:\n%s", out)
			}
		})
	}
}
