// This file tests the helpers that decide which phases a request runs and parse what the
// authorizers ran, and measures their cost per request.

package dispatch

import (
	"testing"

	"github.com/mpgate/mpgate/config"
)

const phasesConf = `<VirtualHost *:80>
    ServerName example.com
    DocumentRoot /srv/www
    <Directory /srv/www/plain>
        SetHandler mod_python
        PythonHandler hello
    </Directory>
    <Directory /srv/www/fixed>
        PythonFixupHandler fix
    </Directory>
    <Directory /srv/www/secure>
        SetHandler mod_python
        PythonHandler hello
        AuthType Basic
        AuthName site
        Require valid-user
        PythonAuthenHandler auth
    </Directory>
    <Directory /srv/www/authless>
        SetHandler mod_python
        PythonHandler hello
        PythonAuthenHandler auth
    </Directory>
</VirtualHost>
`

func lookupPhases(t testing.TB, file string) *config.Merged {
	cfg, err := config.Parse("site.conf", []byte(phasesConf), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Lookup(config.Query{Host: "example.com", LocalPort: 80, URI: file[len("/srv/www"):], Filename: file})
}

func TestPhaseWork(t *testing.T) {
	tests := []struct {
		file, done string
		want       bool
	}{
		{"/srv/www/plain/x.py", "", false},
		{"/srv/www/fixed/x.html", "", true},
		{"/srv/www/secure/x.py", "", true},
		{"/srv/www/secure/x.py", "PythonAuthenHandler, PythonAuthzHandler", false},
		// No Require needing a user: Apache runs no authentication phase.
		{"/srv/www/authless/x.py", "", false},
	}
	for _, tt := range tests {
		if _, got := phaseWork(lookupPhases(t, tt.file), tt.done); got != tt.want {
			t.Errorf("phaseWork(%s, %q) = %v, want %v", tt.file, tt.done, got, tt.want)
		}
	}
}

func TestPhaseIn(t *testing.T) {
	done := "PythonAccessHandler, PythonAuthenHandler,PythonAuthzHandler"
	for _, p := range []string{phaseAccess, phaseAuthen, phaseAuthz} {
		if !phaseIn(done, p) {
			t.Errorf("phaseIn(%q, %s) = false", done, p)
		}
	}
	if phaseIn(done, "PythonFixupHandler") || phaseIn("", phaseAuthen) || phaseIn("PythonAuthenHandlerX", phaseAuthen) {
		t.Error("phaseIn matched a phase not in the list")
	}
}

func TestRequestPath(t *testing.T) {
	for in, want := range map[string]string{
		"/a%20b/c?x=1": "/a b/c", "/a/../b/": "/b/", "": "/", "/": "/", "/x//y": "/x/y",
	} {
		if got := requestPath(in); got != want {
			t.Errorf("requestPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkPhaseWorkNone is the per-request cost of finding that a request has no phase but
// the content handler.
func BenchmarkPhaseWorkNone(b *testing.B) {
	m := lookupPhases(b, "/srv/www/plain/x.py")
	b.ReportAllocs()
	for b.Loop() {
		phaseWork(m, "")
	}
}
