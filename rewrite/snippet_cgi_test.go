// This file checks apache-conf/mpgate-cgi.conf with apache2 -t, as snippets_test.go checks the
// other snippets: alone, with its modules already loaded (mod_cgid or, under prefork, mod_cgi),
// without its variables, and with a section handing its requests to the relay.

package rewrite

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	apacheconf "github.com/mpgate/mpgate/apache-conf"
)

func TestSnippetCGI(t *testing.T) {
	path, err := filepath.Abs(filepath.Join("..", "apache-conf", "mpgate-cgi.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := apacheconf.FS.ReadFile("mpgate-cgi.conf"); err != nil {
		t.Errorf("apacheconf.FS lacks mpgate-cgi.conf: %v", err)
	}
	include := fmt.Sprintf("Include %q\n", path)
	section := "<Directory /srv/www>\n    SetHandler mpgate-relay\n</Directory>\n" +
		"<Directory /srv/pub>\n    <FilesMatch \"\\.py$\">\n        SetHandler mpgate-relay\n    </FilesMatch>\n</Directory>\n<Location /app>\n    SetHandler mpgate-relay\n</Location>\n"
	loaded := append(append([]string(nil), testModules...), "cgid", "actions")
	prefork := []string{"mpm_prefork", "authz_core", "mime"}
	tests := []struct {
		name    string
		modules []string
		conf    string
		wantErr string // a substring of apache2 -t's output when it must fail
	}{
		{name: "loads its modules", modules: snippetBaseModules, conf: "@DEFINES@" + include + section},
		{name: "modules already loaded", modules: loaded, conf: "@DEFINES@" + include + section},
		{name: "mod_cgi loaded", modules: append(append([]string(nil), snippetBaseModules...), "cgi"), conf: "@DEFINES@" + include + section},
		{name: "prefork", modules: prefork, conf: "@DEFINES@" + include + section},
		{name: "variables missing", modules: snippetBaseModules, conf: include, wantErr: "Define MPGATE_"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newSnippetEnv(t)
			extra := strings.NewReplacer("@DEFINES@", e.defines, "@DIR@", e.dir).Replace(tt.conf)
			out, ok := apacheTest(t, e.dir, privateConf(e.dir, tt.modules, extra), nil, nil)
			switch {
			case tt.wantErr == "" && !ok:
				t.Errorf("apache2 -t failed:\n%s", out)
			case tt.wantErr != "" && (ok || !strings.Contains(out, tt.wantErr)):
				t.Errorf("apache2 -t: got ok=%v\n%s\nwant a failure saying %q", ok, out, tt.wantErr)
			}
		})
	}
}
