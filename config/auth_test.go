package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestRequireAuthRequired(t *testing.T) {
	c := mustParse(t, `
<Directory /srv/www>
    Require all granted
</Directory>
<Directory /srv/www/private>
    AuthType Basic
    AuthName "members"
    Require valid-user
</Directory>
<Directory /srv/www/private/open>
    Require ip 127.0.0.1
</Directory>
<Directory /srv/www/any>
    AuthType Basic
    <RequireAny>
        Require ip 10.0.0.0/8
        <RequireAll>
            Require user alice
            Require not env blocked
        </RequireAll>
    </RequireAny>
</Directory>
<Location /denied>
    Require all denied
</Location>
`, nil)
	for _, tc := range []struct {
		uri, file string
		require   []string
		needsUser bool
	}{
		{"/x.py", "/srv/www/x.py", []string{"all granted"}, false},
		{"/private/x.py", "/srv/www/private/x.py", []string{"valid-user"}, true},
		{"/private/open/x.py", "/srv/www/private/open/x.py", []string{"ip 127.0.0.1"}, false},
		{"/any/x.py", "/srv/www/any/x.py", []string{"ip 10.0.0.0/8", "user alice", "not env blocked"}, true},
		{"/denied/x.py", "/srv/www/denied/x.py", []string{"all denied"}, false},
		{"/elsewhere", "/srv/other/x", nil, false},
	} {
		m := c.Lookup(Query{URI: tc.uri, Filename: tc.file})
		if !reflect.DeepEqual(m.Require, tc.require) || m.AuthRequired != tc.needsUser {
			t.Errorf("%s: Require %q AuthRequired %v, want %q %v", tc.uri, m.Require, m.AuthRequired, tc.require, tc.needsUser)
		}
	}
	m := c.Lookup(Query{URI: "/private/x.py", Filename: "/srv/www/private/x.py"})
	if m.AuthType != "Basic" || m.AuthName != "members" {
		t.Errorf("AuthType %q AuthName %q", m.AuthType, m.AuthName)
	}
}

func TestRequireErrors(t *testing.T) {
	for _, tc := range []struct{ conf, want string }{
		{"<Directory /x>\nRequire\n</Directory>\n", "Require takes at least one argument"},
		{"<Directory /x>\nRequire not\n</Directory>\n", "Require not takes an argument"},
		{"Require valid-user\n", "not allowed here"},
	} {
		c, err := Parse("httpd.conf", []byte(tc.conf), Options{fs: newMemFS(nil)})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err %v, want %q", tc.conf, err, tc.want)
			continue
		}
		if len(c.Errors) != 1 || c.Errors[0].Line == 0 {
			t.Errorf("%q: errors %v, want one with a line", tc.conf, c.Errors)
		}
	}
}
