// This file selects the virtual host of a request the way Apache 2.4's
// vhost.c does: by the address the connection arrived on, then by
// ServerName/ServerAlias among the hosts sharing that address.

package config

import (
	"fmt"
	"io/fs"
	"net/netip"
	"strings"
	"time"
)

// VirtualHost is the main server or one <VirtualHost> section, with what
// mod_python exposes of it.
type VirtualHost struct {
	File string // where <VirtualHost> is, or the main file
	Line int    // 0 for the main server

	Addrs         []string // as written: "*:80", "127.0.0.1:8080", "_default_:*"
	ServerName    string   // req.server.server_hostname: the host part of ServerName, inherited as Apache does when missing
	ServerAliases []string
	ServerAdmin   string
	DocumentRoot  string
	IsVirtual     bool

	// Directives and Options are the server-level Python configuration,
	// merged main server then virtual host, as req.server.get_config() and
	// get_options() return it: only PythonPath, PythonInterpreter,
	// PythonDebug, PythonEnablePdb, PythonInterpPerDirective,
	// PythonAutoReload and PythonOption written outside any section
	// (mod_python.md §1.4). Empty option values are kept.
	Directives []KV
	Options    []KV

	// The server facts mod_python's server object shows (mod_python.md
	// §3.3), from the core directives of the server's own body; a
	// <VirtualHost> inherits the main server's where it sets none, as
	// Apache's ap_fixup_virtual_hosts does (facts.go).
	//
	// LogLevel is the plain level of LogLevel (APLOG_EMERG 0 ...
	// APLOG_DEBUG 7, trace1..trace8 8..15), default 4 (warn); per-module
	// levels are ignored, as mod_python logs without a module.
	LogLevel int
	// Timeout is Timeout, default 300 s (Debian's apache2.conf).
	Timeout time.Duration
	// KeepAlive, KeepAliveTimeout and MaxKeepAliveRequests default to on,
	// 5 s and 100.
	KeepAlive            bool
	KeepAliveTimeout     time.Duration
	MaxKeepAliveRequests int
	// ServerPath is ServerPath as written, "" when unset (not inherited).
	ServerPath string
	// ErrorLog is ErrorLog as written; "" for a <VirtualHost> without one,
	// "logs/error_log" (httpd's DEFAULT_ERRORLOG) for a main server without.
	ErrorLog string
	// The request limits, default 8190, 8190 and 100. A <VirtualHost> starts
	// with the main server's values as they are where it opens.
	LimitRequestLine      int
	LimitRequestFieldSize int
	LimitRequestFields    int
	// Port is the server's port (server_rec.port): ServerName's, 0 when
	// ServerName has none; a <VirtualHost> without ServerName keeps the
	// main server's as it is where the <VirtualHost> opens.
	Port int

	id             string
	index          int        // 0 for the main server, then 1, 2, ... in file order
	body           *section   // directives outside sections
	base           []*section // main body, then this body: the merged server-level config
	hasServerName  bool
	port           int // from ServerName
	addrs          []vhostAddr
	ownDirs        []*section // this server's <Directory>/<DirectoryMatch>, in file order
	ownLocs        []*section
	ownFiles       []*section // <Files> outside any <Directory>
	dirs           []*section // with the main server's, in walk order
	locs           []*section
	files          []*section
	srvDirectives  []kvo // mod_python's server config, own part
	srvOptions     []kvo
	aliases        []srcDirective // Alias and AliasMatch, kept for later tools
	accessNames    []string       // AccessFileName, inherited from the main server; default .htaccess
	accessFrom     *strOrigin     // the AccessFileName line, nil for the default
	accessNamesKey string         // accessNames joined by ' ', for htPolicy
	early          *serverLevel
	facts          serverFacts // the server facts as written; resolved into the exported ones by finish
}

// KV is one key and value of a mod_python table.
type KV struct{ Key, Value string }

// Index is the server's position in the configuration: 0 for the main
// server, then 1, 2, ... for the <VirtualHost> sections in file order.
func (v *VirtualHost) Index() int { return v.index }

// ID identifies the virtual host across Apache and mpgate: "file:line" of its
// <VirtualHost> line, or "" for the main server. Apache-side snippets pass it
// as MPGATE_VHOST.
func (v *VirtualHost) ID() string { return v.id }

// selector holds vhost.c's lookup tables.
type selector struct {
	exact    []*addrChain // one per (IP, port) written on a <VirtualHost> line
	defaults []*addrChain // one per port of "*" and "_default_" addresses
	byID     map[string]*VirtualHost
}

// addrChain is vhost.c's ipaddr_chain: the hosts sharing one address.
type addrChain struct {
	ip     netip.Addr
	port   int          // 0: any port
	server *VirtualHost // the first listed: default for the address
	names  []nameEntry  // every (host, address) pair in file order
}

type nameEntry struct {
	v        *VirtualHost
	port     int
	virthost string
}

// newSelector is ap_fini_vhost_config, expressed in file order.
func newSelector(vhosts []*VirtualHost) selector {
	s := selector{byID: make(map[string]*VirtualHost, len(vhosts))}
	for _, v := range vhosts {
		s.byID[v.id] = v
		var prev *vhostAddr
		for i := range v.addrs {
			a := &v.addrs[i]
			if a.unresolved {
				continue
			}
			var list *[]*addrChain
			if a.wildcard {
				list = &s.defaults
				if prev != nil && prev.wildcard && prev.port == a.port {
					prev = a
					continue // the same default address twice on one line
				}
			} else {
				list = &s.exact
			}
			var ch *addrChain
			for _, c := range *list {
				if c.port == a.port && (a.wildcard || c.ip == a.ip) {
					ch = c
					break
				}
			}
			if ch == nil {
				ch = &addrChain{ip: a.ip, port: a.port, server: v}
				*list = append(*list, ch)
			}
			ch.names = append(ch.names, nameEntry{v: v, port: a.port, virthost: a.virthost})
			prev = a
		}
	}
	return s
}

// selectVHost returns the virtual host for q, or the main server. It does
// not allocate.
func (c *Config) selectVHost(q *Query) *VirtualHost {
	if q.VHost != "" {
		if v, ok := c.sel.byID[q.VHost]; ok {
			return v
		}
	}
	ch := c.sel.find(q.LocalAddr, q.LocalPort)
	if ch == nil {
		return c.main
	}
	if len(ch.names) < 2 {
		return ch.server // IP-based: no name matching
	}
	host := normalizeHost(q.Host)
	if host == "" {
		return ch.server
	}
	// update_server_from_aliases
	var last, byVirthost *VirtualHost
	for _, e := range ch.names {
		if e.port != 0 && q.LocalPort != 0 && e.port != q.LocalPort {
			continue
		}
		if e.v != last && matchesAliases(e.v, host) {
			return e.v
		}
		if byVirthost == nil && strings.EqualFold(host, e.virthost) {
			byVirthost = e.v
		}
		last = e.v
	}
	if byVirthost != nil {
		return byVirthost
	}
	return ch.server
}

// find is ap_update_vhost_given_ip: an exact address first, then a default
// ("*", "_default_") address on the port. A zero port matches any.
func (s *selector) find(addr string, port int) *addrChain {
	if ip, err := netip.ParseAddr(strings.Trim(addr, "[]")); err == nil {
		ip = ip.Unmap()
		var wild *addrChain
		for _, c := range s.exact {
			if c.ip != ip {
				continue
			}
			if c.port == port {
				return c
			}
			if wild == nil && (c.port == 0 || port == 0) {
				wild = c
			}
		}
		if wild != nil {
			return wild
		}
	}
	var wild *addrChain
	for _, c := range s.defaults {
		if c.port == port {
			return c
		}
		if wild == nil && (c.port == 0 || port == 0) {
			wild = c
		}
	}
	return wild
}

// normalizeHost strips a port and a trailing dot from a Host value, as
// fix_hostname does; case is ignored by the comparisons.
func normalizeHost(h string) string {
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i >= 0 {
			return h[:i+1]
		}
		return h
	}
	if i := strings.IndexByte(h, ':'); i >= 0 && strings.Count(h, ":") == 1 {
		h = h[:i]
	}
	return strings.TrimSuffix(h, ".")
}

// matchesAliases is vhost.c matches_aliases: ServerName, then ServerAlias
// names, with '*' and '?' wildcards in aliases.
func matchesAliases(v *VirtualHost, host string) bool {
	if strings.EqualFold(host, v.ServerName) {
		return true
	}
	for _, a := range v.ServerAliases {
		if strings.ContainsAny(a, "*?") {
			if strcasecmpMatch(host, a) {
				return true
			}
		} else if strings.EqualFold(host, a) {
			return true
		}
	}
	return false
}

// MapURL is the URI-to-file translation Apache does for v (mod_alias's
// translate_alias_redir, then core's DocumentRoot): the virtual host's
// Alias and AliasMatch lines, then the main server's, first match wins;
// otherwise DocumentRoot. how says which line decided, with its position.
// uri is the decoded path, without query string.
func (c *Config) MapURL(v *VirtualHost, uri string) (file, how string) {
	lists := [][]srcDirective{v.aliases}
	if v != c.main {
		lists = append(lists, c.main.aliases)
	}
	for _, list := range lists {
		for _, d := range list {
			ws := words(d.args)
			if len(ws) != 2 {
				continue
			}
			where := fmt.Sprintf("%s %s %s at %s:%d", d.name, ws[0], ws[1], d.file, d.line)
			if d.name == "AliasMatch" {
				re, err := compileRegex(ws[0])
				if err != nil {
					continue
				}
				if m := re.FindStringSubmatchIndex(uri); m != nil {
					return string(re.ExpandString(nil, pregsubTemplate(ws[1]), uri, m)), where
				}
				continue
			}
			if n := aliasMatches(uri, ws[0]); n > 0 {
				return ws[1] + uri[n:], where
			}
		}
	}
	root := v.DocumentRoot
	if root == "" {
		root = "/var/www/html" // Debian's compiled-in DOCUMENT_LOCATION
	}
	return strings.TrimSuffix(root, "/") + uri, "DocumentRoot " + root
}

// SplitPathInfo splits the file a URL maps to (MapURL) as Apache's directory
// walk does: components are followed while stat says they are directories;
// the first that is not (a file, or nothing) ends the file name, and the
// rest, from its slash, is the path info. A path that is directories to its
// end is the file name whole, trailing slash kept.
func SplitPathInfo(path string, stat func(string) (fs.FileInfo, error)) (filename, pathInfo string) {
	for i := 1; i < len(path); {
		if path[i] == '/' {
			i++
			continue
		}
		end := i + strings.IndexByte(path[i:], '/')
		if end < i {
			end = len(path)
		}
		if fi, err := stat(path[:end]); err != nil || !fi.IsDir() {
			return path[:end], path[end:]
		}
		i = end
	}
	return path, ""
}

// aliasMatches is mod_alias's alias_matches: the length of uri matched by
// the alias path fake, slashes in runs counting as one, ending at a '/' of
// fake or of uri; 0 for no match.
func aliasMatches(uri, fake string) int {
	u, f := 0, 0
	for f < len(fake) {
		if fake[f] == '/' {
			if u >= len(uri) || uri[u] != '/' {
				return 0
			}
			for f < len(fake) && fake[f] == '/' {
				f++
			}
			for u < len(uri) && uri[u] == '/' {
				u++
			}
			continue
		}
		if u >= len(uri) || uri[u] != fake[f] {
			return 0
		}
		u++
		f++
	}
	if len(fake) > 0 && fake[len(fake)-1] != '/' && u < len(uri) && uri[u] != '/' {
		return 0
	}
	return u
}

// pregsubTemplate turns ap_pregsub's $N and \N into Go's ${N}.
func pregsubTemplate(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if (s[i] == '$' || s[i] == '\\') && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
			b.WriteString("${" + s[i+1:i+2] + "}")
			i++
			continue
		}
		if s[i] == '$' {
			b.WriteString("$$")
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
