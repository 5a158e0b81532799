package rewrite

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mpgate/mpgate/internal/apachetest"
)

// matchNames are file names that AddHandler's extension rule treats in every way: an extension
// anywhere after the base name, leading dots, case, empty parts, a trailing dot, near misses.
var matchNames = []string{
	"a.py", "a.py.bak", "b.tar.py.gz", ".x.py", "a..py", "a.PY", "A.Py", "a.py.", "x.psp", "x.PSP",
	"a.x+y", "sp ace.py", ".py", "..py", "py", "a.pyc", "a.txt", "apy", "a.py~", "noext",
}

// TestAddHandlerMatch checks against a running Apache that the section replacing an AddHandler
// matches what mod_mime's AddHandler matches, in a <Directory> (<FilesMatch>) and in a
// <Location> (<If>): for every request, the original's handler is mod_python exactly when the
// rewritten one is the FastCGI handler. Apache shows the handler in a header (%{HANDLER}).
func TestAddHandlerMatch(t *testing.T) {
	const sections = `<Directory "@DOCROOT@/mig">
    AddHandler mod_python .py .PSP x+y
</Directory>
<Location /migloc>
    AddHandler mod_python .py .PSP x+y
</Location>
`
	dir := shortTempDir(t)
	src := filepath.Join(dir, "site.conf")
	if err := os.WriteFile(src, []byte(sections), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Site(src, Options{OutDir: filepath.Join(dir, "out"), Via: ViaProxy, Socket: filepath.Join(dir, "mpgate.sock")})
	if err != nil {
		t.Fatal(err)
	}
	rewritten, err := os.ReadFile(res.Main)
	if err != nil {
		t.Fatal(err)
	}
	original := strings.NewReplacer("/mig", "/orig").Replace(sections)
	files := map[string]string{"orig/dir.py/index.html": "dir\n", "mig/dir.py/index.html": "dir\n"}
	for _, n := range matchNames {
		files["orig/"+n] = n + "\n"
		files["mig/"+n] = n + "\n"
	}
	s := apachetest.Start(t, apachetest.Options{
		Modules: []string{"proxy_fcgi"},
		Config: `Header always set X-Handler "expr=%{HANDLER}"
Alias /origloc "@DOCROOT@/orig"
Alias /migloc "@DOCROOT@/mig"
` + original + string(rewritten),
		Files: files,
	})

	targets := []string{"dir.py", "dir.py/", "a.py/extra/path", "missing.py", "missing.py/x", "missing.txt"}
	for _, n := range matchNames {
		targets = append(targets, (&url.URL{Path: n}).EscapedPath())
	}
	matched := 0
	for _, pair := range [][2]string{{"/orig/", "/mig/"}, {"/origloc/", "/migloc/"}} {
		for _, target := range targets {
			orig := s.Get(t, pair[0]+target)
			mig := s.Get(t, pair[1]+target)
			oh, mh := orig.Header.Get("X-Handler"), mig.Header.Get("X-Handler")
			if orig.Status == 301 || mig.Status == 301 {
				// mod_dir adds the slash to a directory before any handler runs.
				if orig.Status != mig.Status {
					t.Errorf("GET %s%s = %d, GET %s%s = %d, want both 301", pair[0], target, orig.Status, pair[1], target, mig.Status)
				}
				continue
			}
			wantFastCGI := oh == "mod_python"
			if gotFastCGI := strings.HasPrefix(mh, "proxy:unix:"); gotFastCGI != wantFastCGI {
				t.Errorf("%s%s: AddHandler gives handler %q, the rewritten section %q", pair[1], target, oh, mh)
			}
			if wantFastCGI {
				matched++
			}
		}
	}
	if matched == 0 || matched == 2*len(targets) {
		t.Errorf("%d of %d requests matched: the names do not exercise both outcomes", matched, 2*len(targets))
	}
}
