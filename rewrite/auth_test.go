// This file checks what Site writes for mod_python's phases other than the content handler
// (auth.go): the lines for each transport, and that Apache accepts the result with the snippet.

package rewrite

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const authSite = `<VirtualHost *:80>
    ServerName example.com
    DocumentRoot /srv/www
    <Directory /srv/www/secure>
        SetHandler mod_python
        PythonHandler app
        AuthType Basic
        AuthName "site"
        Require valid-user
        PythonAuthenHandler auth
        PythonAuthzHandler auth
    </Directory>
    <Directory /srv/www/custom>
        SetHandler mod_python
        PythonHandler app
        AuthType Custom
        AuthName "custom"
        Require valid-user
        PythonAuthenHandler auth
    </Directory>
    <Directory /srv/www/checked>
        PythonAccessHandler access
    </Directory>
    <Directory /srv/www/fixed>
        PythonFixupHandler fix
        PythonHandler app
    </Directory>
</VirtualHost>
`

func TestAuthRecipes(t *testing.T) {
	tests := []struct {
		via        Via
		want, not  []string // substrings of the rewritten site
		wantInSecs map[string][]string
	}{
		{via: ViaProxy,
			wantInSecs: map[string][]string{
				"secure": {"CGIPassAuth On", `AuthnzFcgiCheckAuthnProvider mpgate-authn Authoritative On RequireBasicAuth Off UserExpr "%{reqenv:MPGATE_USER}"`, "<IfDefine !MPGATE>", "Error \"mpgate: the PythonAuthenHandler"},
				// mod_authnz_fcgi works with any AuthType: no fallback needed.
				"custom":  {"AuthnzFcgiCheckAuthnProvider mpgate-authn"},
				"checked": {`SetHandler "proxy:unix:`},
				"fixed":   {`SetHandler "proxy:unix:`},
			}},
		{via: ViaFcgid,
			wantInSecs: map[string][]string{
				"secure":  {"AuthBasicProvider file", "AuthUserFile /dev/null", "AuthBasicAuthoritative Off", `FcgidAuthenticator "`, `FcgidAuthorizer "`},
				"custom":  {"Require all granted", "SetHandler fcgid-script"},
				"checked": {"SetHandler fcgid-script"},
				"fixed":   {"SetHandler fcgid-script", "Options +ExecCGI"},
			}},
	}
	for _, tt := range tests {
		t.Run(string(tt.via), func(t *testing.T) {
			t.Parallel()
			e := newSnippetEnv(t)
			site := filepath.Join(e.dir, "src", "site.conf")
			if err := os.MkdirAll(filepath.Dir(site), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(site, []byte(authSite), 0o644); err != nil {
				t.Fatal(err)
			}
			res, err := Site(site, Options{OutDir: filepath.Join(e.dir, "out"), Via: tt.via,
				Socket: "${MPGATE_RUN}/mpgate.sock", Mpgate: "${MPGATE_BIN}", Config: "${MPGATE_CONFIG}", RunDir: "${MPGATE_RUN}"})
			if err != nil {
				t.Fatal(err)
			}
			out, err := os.ReadFile(res.Main)
			if err != nil {
				t.Fatal(err)
			}
			for sec, wants := range tt.wantInSecs {
				body := sectionText(string(out), "/srv/www/"+sec+">")
				for _, w := range wants {
					if !strings.Contains(body, w) {
						t.Errorf("<Directory /srv/www/%s> lacks %q:\n%s", sec, w, body)
					}
				}
			}
			sec := sectionText(string(out), "/srv/www/secure>")
			if n := strings.Count(sec, `SetHandler "proxy`) + strings.Count(sec, "SetHandler fcgid-script"); n != 1 {
				t.Errorf("<Directory /srv/www/secure> has %d SetHandler lines, want 1 (the phases add none):\n%s", n, out)
			}
			snippet, err := filepath.Abs(filepath.Join("..", "apache-conf", "mpgate-"+string(tt.via)+".conf"))
			if err != nil {
				t.Fatal(err)
			}
			defines := e.defines
			if tt.via == ViaProxy {
				defines += "Define MPGATE_AUTHZ_PORT 8291\n"
			}
			extra := fmt.Sprintf("%sInclude %q\nInclude %q\n", defines, snippet, res.Main)
			if msg, ok := apacheTest(t, e.dir, privateConf(e.dir, snippetBaseModules, extra), nil, nil); !ok {
				t.Errorf("apache2 -t with the snippet and the rewritten site failed:\n%s\n%s", msg, out)
			}
			if tt.via == ViaProxy {
				// Without the authorizer's port, Apache refuses to start, naming the cause.
				extra := fmt.Sprintf("%sInclude %q\nInclude %q\n", e.defines, snippet, res.Main)
				msg, ok := apacheTest(t, e.dir, privateConf(e.dir, snippetBaseModules, extra), nil, nil)
				if ok || !strings.Contains(msg, "Define MPGATE_AUTHZ_PORT") {
					t.Errorf("apache2 -t without MPGATE_AUTHZ_PORT: ok=%v\n%s", ok, msg)
				}
			}
			// A second rewrite of the rewritten site changes nothing more.
			res2, err := Site(res.Main, Options{OutDir: filepath.Join(e.dir, "out2"), Via: tt.via,
				Socket: "${MPGATE_RUN}/mpgate.sock", Mpgate: "${MPGATE_BIN}", Config: "${MPGATE_CONFIG}", RunDir: "${MPGATE_RUN}"})
			if err != nil {
				t.Fatal(err)
			}
			out2, err := os.ReadFile(res2.Main)
			if err != nil {
				t.Fatal(err)
			}
			if string(out2) != string(out) {
				t.Errorf("rewriting the rewritten site changed it:\n%s", out2)
			}
		})
	}
}

// sectionText returns the text of the section whose opening line ends with open, up to the
// next closing line at its indentation.
func sectionText(s, open string) string {
	i := strings.Index(s, open)
	if i < 0 {
		return ""
	}
	j := strings.Index(s[i:], "\n    </Directory>")
	if j < 0 {
		return s[i:]
	}
	return s[i : i+j]
}
