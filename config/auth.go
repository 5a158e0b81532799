// This file reads mod_authz_core's Require lines, as far as mpgate needs
// them: to know whether Apache would run the authentication and
// authorization phases (PythonAuthenHandler, PythonAuthzHandler) for a
// request, which httpd 2.4 does only when the Require lines in effect need a
// user (ap_process_request_internal, authz_core's access_checker_ex).

package config

import "strings"

// requireConf is one section's authorization: its Require lines, in file
// order, those inside <RequireAll>, <RequireAny> and <RequireNone> included.
type requireConf struct {
	lines     []string // "valid-user", "user alice bob", "all granted", as written
	needsUser bool     // some line names a provider that needs an authenticated user
	file      string
	line      int // the first Require of the section
	sec       *section
}

// userlessProviders are mod_authz_host's and mod_authz_core's providers,
// which decide without a user; every other provider (valid-user, user,
// group, file-owner, dbm-group, ldap-*, ...) needs one, and Apache then runs
// check_user_id and auth_checker.
var userlessProviders = map[string]bool{
	"all": true, "ip": true, "host": true, "forward-dns": true, "local": true,
	"env": true, "method": true, "expr": true,
}

func (b *builder) require(d *directiveDef, n *node, ctx *walkCtx) {
	args := strings.TrimSpace(n.args)
	ws := words(args)
	if len(ws) == 0 {
		b.errorf(n, d.name, "Require takes at least one argument")
		return
	}
	provider := strings.ToLower(ws[0])
	if provider == "not" {
		if len(ws) < 2 {
			b.errorf(n, d.name, "Require not takes an argument")
			return
		}
		provider = strings.ToLower(ws[1])
	}
	t := ctx.target()
	rc := t.core.require
	if rc == nil {
		rc = &requireConf{file: n.file, line: n.line, sec: t}
		t.core.require = rc
	}
	rc.lines = append(rc.lines, args)
	if !userlessProviders[provider] {
		rc.needsUser = true
	}
	if ctx.limited {
		b.warnf(n, d.name, "the methods of the enclosing <Limit> are not evaluated: mpgate reads this Require as applying to every method")
	}
}

// requireBlock reads the Require lines of a <RequireAll>, <RequireAny> or
// <RequireNone> as the section's own. How the block combines them is not
// evaluated: a user is taken to be needed when any line needs one.
func (b *builder) requireBlock(n *node, ctx walkCtx) {
	inner := ctx
	inner.parent = "<" + canonicalSection(n.name) + ">"
	for _, c := range n.children {
		lname := strings.ToLower(c.name)
		switch {
		case c.section && (lname == "requireall" || lname == "requireany" || lname == "requirenone"):
			b.requireBlock(c, inner)
		case !c.section && lname == "require":
			if b.allowed(knownDirectives["require"], c, inner) {
				b.require(knownDirectives["require"], c, &inner)
			}
		}
	}
}
