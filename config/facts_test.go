package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestServerFacts: the core directives mod_python's server object shows, with
// a <VirtualHost> inheriting the main server's values as
// ap_fixup_virtual_hosts does, and the request limits and port copied when
// the <VirtualHost> opens (ap_init_virtual_host).
func TestServerFacts(t *testing.T) {
	c := mustParse(t, `
ServerName main.example:8080
LimitRequestLine 4000
<VirtualHost *>
    ServerName a.example
    LogLevel info python:debug
    Timeout 60
    KeepAlive Off
    KeepAliveTimeout 500ms
    MaxKeepAliveRequests 7
    ServerPath /a
    ErrorLog /var/log/a.log
    LimitRequestFields 50
</VirtualHost>
<VirtualHost *>
    ServerAlias b.example
</VirtualHost>
LogLevel debug
Timeout 2mi
LimitRequestFieldSize 100
ErrorLog syslog:local1
`, nil)
	main, vs := c.MainServer(), c.VirtualHosts()
	type facts struct {
		LogLevel                                                    int
		Timeout, KeepAliveTimeout                                   time.Duration
		KeepAlive                                                   bool
		MaxKeepAliveRequests                                        int
		ServerPath, ErrorLog                                        string
		LimitRequestLine, LimitRequestFieldSize, LimitRequestFields int
		Port                                                        int
	}
	of := func(v *VirtualHost) facts {
		return facts{v.LogLevel, v.Timeout, v.KeepAliveTimeout, v.KeepAlive, v.MaxKeepAliveRequests,
			v.ServerPath, v.ErrorLog, v.LimitRequestLine, v.LimitRequestFieldSize, v.LimitRequestFields, v.Port}
	}
	tests := []struct {
		name string
		v    *VirtualHost
		want facts
	}{
		{"main", main, facts{7, 2 * time.Minute, 5 * time.Second, true, 100, "", "syslog:local1", 4000, 100, 100, 8080}},
		{"a.example", vs[0], facts{6, time.Minute, 500 * time.Millisecond, false, 7, "/a", "/var/log/a.log", 4000, 8190, 50, 0}},
		{"b.example", vs[1], facts{7, 2 * time.Minute, 5 * time.Second, true, 100, "", "", 4000, 8190, 100, 8080}},
	}
	for _, tt := range tests {
		if got := of(tt.v); got != tt.want {
			t.Errorf("%s: facts = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

// TestServerFactsDefaults: a configuration that sets none of them.
func TestServerFactsDefaults(t *testing.T) {
	c := mustParse(t, "<VirtualHost *>\nServerName x\n</VirtualHost>\n", nil)
	for _, v := range []*VirtualHost{c.MainServer(), c.VirtualHosts()[0]} {
		if v.LogLevel != 4 || v.Timeout != 300*time.Second || !v.KeepAlive || v.KeepAliveTimeout != 5*time.Second ||
			v.MaxKeepAliveRequests != 100 || v.LimitRequestLine != 8190 || v.LimitRequestFieldSize != 8190 ||
			v.LimitRequestFields != 100 || v.ServerPath != "" {
			t.Errorf("%s: facts %+v, want Apache's defaults", v.ServerName, v)
		}
	}
	if got := c.MainServer().ErrorLog; got != "logs/error_log" {
		t.Errorf("main ErrorLog = %q, want httpd's default logs/error_log", got)
	}
	if got := c.VirtualHosts()[0].ErrorLog; got != "" {
		t.Errorf("<VirtualHost> ErrorLog = %q, want \"\" (error_fname NULL)", got)
	}
}

// TestRequestLogLevel: a section's LogLevel applies to the requests it
// covers (r->log); elsewhere the virtual host's; per-module levels alone
// change nothing.
func TestRequestLogLevel(t *testing.T) {
	c := mustParse(t, `
LogLevel warn
<Directory /srv/www/dbg>
    LogLevel debug
</Directory>
<Directory /srv/www/mod>
    LogLevel python:debug
</Directory>
<VirtualHost *>
    ServerName v
    DocumentRoot /srv/www
    LogLevel error
    <Location /loc>
        LogLevel notice
    </Location>
</VirtualHost>
`, nil)
	tests := []struct {
		uri, file string
		want      int
	}{
		{"/x", "/srv/www/x", 3},
		{"/dbg/x", "/srv/www/dbg/x", 7},
		{"/mod/x", "/srv/www/mod/x", 3},
		{"/loc/x", "/srv/www/loc/x", 5},
	}
	for _, tt := range tests {
		m := c.Lookup(Query{Host: "v", URI: tt.uri, Filename: tt.file})
		if m.LogLevel != tt.want {
			t.Errorf("Lookup(%s).LogLevel = %d, want %d", tt.uri, m.LogLevel, tt.want)
		}
	}
}

// TestServerFactsErrors: malformed values are refused as Apache refuses them.
func TestServerFactsErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"LogLevel loud", "LogLevel requires level keyword"},
		{"LogLevel", "LogLevel requires at least one argument"},
		{"Timeout soon", "Timeout has wrong format"},
		{"KeepAlive maybe", "must be On or Off"},
		{"LimitRequestLine -1", "must be a non-negative integer"},
		{"<Directory /x>\nTimeout 5\n</Directory>", "not allowed"},
	}
	for _, tt := range tests {
		_, err := Parse("httpd.conf", []byte(tt.src), Options{fs: newMemFS(nil)})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) error = %v, want one containing %q", tt.src, err, tt.want)
		}
	}
}

// TestDefinesAndServerLinks: the names defined once reading ends (for
// apache.exists_config_define), the base server of an address and Apache's
// server_rec.next order.
func TestDefinesAndServerLinks(t *testing.T) {
	c, err := Parse("httpd.conf", []byte(`
Define FROM_CONF
Define GONE
UnDefine GONE
<VirtualHost 127.0.0.1:80>
    ServerName ip
</VirtualHost>
<VirtualHost *:80>
    ServerName first
</VirtualHost>
<VirtualHost *:80>
    ServerName second
</VirtualHost>
`), Options{Defines: []string{"CMDLINE"}, fs: newMemFS(nil)})
	if err != nil {
		t.Fatal(err)
	}
	d := slices.Clone(c.Defines())
	slices.Sort(d)
	if want := []string{"CMDLINE", "FROM_CONF", "MPGATE"}; !slices.Equal(d, want) {
		t.Errorf("Defines() = %v, want %v", d, want)
	}
	base := func(addr string, port int) string {
		return c.BaseServer(Query{LocalAddr: addr, LocalPort: port}).ServerName
	}
	if got := base("10.0.0.1", 80); got != "first" {
		t.Errorf("BaseServer(10.0.0.1:80) = %q, want the first *:80 host", got)
	}
	if got := base("127.0.0.1", 80); got != "ip" {
		t.Errorf("BaseServer(127.0.0.1:80) = %q, want the IP-based host", got)
	}
	if got := base("10.0.0.1", 81); got != c.MainServer().ServerName {
		t.Errorf("BaseServer(10.0.0.1:81) = %q, want the main server", got)
	}
	var chain []string
	for v := c.NextServer(c.MainServer()); v != nil; v = c.NextServer(v) {
		chain = append(chain, v.ServerName)
	}
	if want := []string{"second", "first", "ip"}; !slices.Equal(chain, want) {
		t.Errorf("server_rec.next chain from the main server = %v, want %v", chain, want)
	}
	for i, v := range append([]*VirtualHost{c.MainServer()}, c.VirtualHosts()...) {
		if v.Index() != i {
			t.Errorf("%s.Index() = %d, want %d", v.ServerName, v.Index(), i)
		}
	}
}
