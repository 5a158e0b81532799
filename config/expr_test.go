package config

import (
	"errors"
	"testing"
)

type mapParams map[string]string

func (m mapParams) Param(name string) string { return m[name] }

func TestExpr(t *testing.T) {
	q := Query{URI: "/admin/x.py", Host: "www.example", Params: mapParams{
		"HTTP_HOST": "beta.example", "REQUEST_METHOD": "POST", "QUERY_STRING": "a=1&debug=1",
		"HTTP_X_DEBUG": "on", "HTTPS": "on", "SERVER_PORT": "8443",
	}}
	fs := newMemFS(map[string]string{"/srv/www/admin/x.py": "x", "/srv/www/empty": ""})
	e := &exprEnv{q: &q, filename: "/srv/www/admin/x.py", v: &VirtualHost{DocumentRoot: "/srv/www"}, fs: fs}
	tests := []struct {
		expr string
		want bool
	}{
		{"true", true},
		{"false || !true", false},
		{"%{HTTP_HOST} == 'beta.example'", true},
		{"%{HTTP_HOST} = \"beta.example\"", true},
		{"%{HTTP_HOST} != 'beta.example'", false},
		{"%{REQUEST_URI} =~ m#^/admin/#", true},
		{"%{REQUEST_URI} !~ /^\\/admin\\//", false},
		{"%{REQUEST_URI} =~ /ADMIN/i", true},
		{"%{REQUEST_METHOD} in {'GET', 'HEAD'}", false},
		{"%{REQUEST_METHOD} in { 'POST' , 'PUT' } && %{QUERY_STRING} =~ /debug=1/", true},
		{"-f %{REQUEST_FILENAME}", true},
		{"-d %{REQUEST_FILENAME}", false},
		{"-d '/srv/www/admin'", true},
		{"-s '/srv/www/empty'", false},
		{"-e '/srv/www/none'", false},
		{"%{HTTP:X-Debug} == 'on' && %{HTTPS} == 'on'", true},
		{"%{SERVER_PORT} -ge 8000 && %{SERVER_PORT} -lt 9000", true},
		{"'%{HTTP_HOST}:%{SERVER_PORT}' == 'beta.example:8443'", true},
		{"-n %{QUERY_STRING} && -z %{HTTP:Missing}", true},
		{"!(%{REQUEST_METHOD} == 'GET')", true},
		{"%{REQUEST_URI} -strmatch '/admin/*'", true},
		{"%{REQUEST_URI} -fnmatch '/*.py'", false},
		{"%{REQUEST_URI} -fnmatch '/*/*.py'", true},
	}
	for _, tt := range tests {
		c, err := parseExpr(tt.expr)
		if err != nil {
			t.Errorf("parseExpr(%q): %v", tt.expr, err)
			continue
		}
		if got := c(e); got != tt.want {
			t.Errorf("parseExpr(%q) = %v, want %v", tt.expr, got, tt.want)
		}
	}
	for _, s := range []string{"%{TIME_HOUR} -gt 12", "tolower(%{HTTP_HOST}) == 'a'", "-R '10.0.0.0/8'", "%{ENV:X} == 'a'", "%{REMOTE_ADDR} -ipmatch '10.0.0.0/8'"} {
		if _, err := parseExpr(s); !errors.Is(err, errUnsupported) {
			t.Errorf("parseExpr(%q) error = %v, want errUnsupported", s, err)
		}
	}
	for _, s := range []string{"", "%{HTTP_HOST} ==", "(true", "'a' == 'b' junk", "%{HTTP_HOST} =~ /unterminated", "%{X"} {
		if _, err := parseExpr(s); err == nil {
			t.Errorf("parseExpr(%q) succeeded, want an error", s)
		}
	}
}
