// Package apacheconf holds the server-level Apache configuration a site Includes to reach mpgate:
// mpgate-proxy.conf (mod_proxy_fcgi to a running daemon) and mpgate-fcgid.conf (mod_fcgid relays
// that start the daemon). The stage before it is the site's configuration as rewritten by package
// rewrite, whose sections name the daemon's socket or relay; the stage after it is the daemon
// (mpgate serve). The files are installed and Included as they are; FS lets mpgate write them next
// to a configuration it generates (mpgate preview), so that what it runs is what users include.
package apacheconf

import "embed"

// The snippets' file names in FS.
const (
	Proxy = "mpgate-proxy.conf"
	Fcgid = "mpgate-fcgid.conf"
)

// FS holds the snippets.
//
//go:embed mpgate-proxy.conf mpgate-fcgid.conf mpgate-cgi.conf
var FS embed.FS
