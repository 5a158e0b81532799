package config

import (
	"net/netip"
	"testing"
)

func TestParseVHostAddr(t *testing.T) {
	tests := []struct {
		in   string
		want vhostAddr
		err  bool
	}{
		{in: "*", want: vhostAddr{wildcard: true, virthost: "*"}},
		{in: "*:80", want: vhostAddr{wildcard: true, port: 80, virthost: "*"}},
		{in: "*:*", want: vhostAddr{wildcard: true, virthost: "*"}},
		{in: "_default_:*", want: vhostAddr{wildcard: true, virthost: "_default_"}},
		{in: "_DEFAULT_", want: vhostAddr{wildcard: true, port: 8000, virthost: "_DEFAULT_"}},
		{in: "127.0.0.1", want: vhostAddr{ip: netip.MustParseAddr("127.0.0.1"), port: 8000, virthost: "127.0.0.1"}},
		{in: "[::1]:8443", want: vhostAddr{ip: netip.MustParseAddr("::1"), port: 8443, virthost: "::1"}},
		{in: "0.0.0.0:80", want: vhostAddr{wildcard: true, ip: netip.MustParseAddr("0.0.0.0"), port: 80, virthost: "0.0.0.0"}},
		{in: "www.example.com:80", want: vhostAddr{port: 80, virthost: "www.example.com", unresolved: true}},
		{in: "*:http", err: true},
		{in: ":80", err: true},
		{in: "[::1", err: true},
	}
	for _, tt := range tests {
		got, err := parseVHostAddr(tt.in, 8000)
		if (err != nil) != tt.err {
			t.Errorf("parseVHostAddr(%q) error = %v, want error %t", tt.in, err, tt.err)
			continue
		}
		if err == nil && got != tt.want {
			t.Errorf("parseVHostAddr(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestSelectVHostIPv6AndPorts(t *testing.T) {
	c := mustParse(t, `ServerName main
<VirtualHost [2001:db8::1]:443>
  ServerName six
</VirtualHost>
<VirtualHost 192.0.2.1>
  ServerName anyport
</VirtualHost>
<VirtualHost 192.0.2.1:8080>
  ServerName exact
</VirtualHost>
`, nil)
	tests := []struct {
		q    Query
		want string
	}{
		{Query{LocalAddr: "2001:db8::1", LocalPort: 443}, "six"},
		{Query{LocalAddr: "[2001:db8::1]", LocalPort: 443}, "six"},
		{Query{LocalAddr: "2001:db8::1", LocalPort: 80}, "main"},
		{Query{LocalAddr: "192.0.2.1", LocalPort: 8080}, "exact"},
		{Query{LocalAddr: "192.0.2.1", LocalPort: 9999}, "anyport"},
		{Query{LocalAddr: "::ffff:192.0.2.1", LocalPort: 9999}, "anyport"},
		{Query{LocalAddr: "not an address", LocalPort: 80}, "main"},
	}
	for _, tt := range tests {
		if got := c.Lookup(tt.q).VHost.ServerName; got != tt.want {
			t.Errorf("Lookup(%+v).VHost.ServerName = %q, want %q", tt.q, got, tt.want)
		}
	}
}
