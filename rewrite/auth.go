// This file writes what Apache needs for mod_python's phases other than the content handler
// (shared/reference/fastcgi-apache.md §1.8, §3, §7, §11 "Auth phases"):
//
//   - PythonAuthenHandler and PythonAuthzHandler run in FastCGI AUTHORIZER requests Apache
//     sends to mpgate: with ViaProxy mod_authnz_fcgi's check_user_id hook
//     (AuthnzFcgiCheckAuthnProvider, one call running both phases, whose failure response
//     reaches the client as the handler made it); with ViaFcgid FcgidAuthenticator and
//     FcgidAuthorizer with the relay's command, plus the empty user file mod_auth_basic needs so
//     that it leaves the password to the authenticator (AuthBasicProvider file, AuthUserFile
//     /dev/null, AuthBasicAuthoritative Off).
//   - PythonAccessHandler runs in the responder on every transport, its section routed to
//     mpgate: mod_authnz_fcgi has no access checker, and mod_fcgid's FcgidAccessChecker would
//     turn its 403 into a 401 and lose what it does to req (req.add_handler, attributes the
//     content handler reads), which the responder keeps. The daemon still serves
//     FcgidAccessChecker for configurations written by hand.
//   - Where Apache cannot hand a phase over (an AuthType other than Basic with mod_fcgid, whose
//     authenticator reads Basic credentials only; PythonAuthzHandler alone with
//     mod_authnz_fcgi; every phase with CGI), the section is routed to mpgate, whose responder
//     runs the phase, and for the authentication phases "Require all granted" keeps Apache from
//     requiring a user nobody in Apache can check (the responder checks it).
//   - The phases Apache runs around the content handler (PythonInitHandler,
//     PythonPostReadRequestHandler, PythonTransHandler, PythonHeaderParserHandler,
//     PythonTypeHandler, PythonFixupHandler, PythonLogHandler) run in the responder, so their
//     section is routed to mpgate (mpgate serves the static files there itself).
//
// Everything added for the authorizers sits inside <IfDefine !MPGATE>: mpgate reads the
// rewritten configuration with MPGATE defined and must not see "Require all granted". Where
// each directive is allowed was checked with apache2 -t (rewrite/snippets_test.go):
// AuthnzFcgiCheckAuthnProvider, FcgidAuthenticator, FcgidAuthorizer, AuthBasicProvider, AuthUserFile, AuthBasicAuthoritative and Require only in directory context,
// so at server and <VirtualHost> level they go into <Location "/">.

package rewrite

import (
	"strconv"
	"strings"
)

// phaseUse says what a Python*Handler line other than PythonHandler needs from Apache.
type phaseUse int

const (
	phaseNone   phaseUse = iota
	phaseRoute           // the responder runs it: the section must reach mpgate
	phaseAccess          // PythonAccessHandler
	phaseAuthen          // PythonAuthenHandler
	phaseAuthz           // PythonAuthzHandler
)

// phaseLine returns the handler line for a Python* directive that needs something from Apache
// (an authorizer, or the section routed to mpgate), or nil.
func phaseLine(name string) *handlerLine {
	switch strings.ToLower(name) {
	case "pythonaccesshandler":
		return &handlerLine{phases: []phaseUse{phaseAccess}}
	case "pythonauthenhandler":
		return &handlerLine{phases: []phaseUse{phaseAuthen}}
	case "pythonauthzhandler":
		return &handlerLine{phases: []phaseUse{phaseAuthz}}
	case "pythoninithandler", "pythonpostreadrequesthandler", "pythontranshandler",
		"pythonheaderparserhandler", "pythontypehandler", "pythonfixuphandler", "pythonloghandler":
		return &handlerLine{phases: []phaseUse{phaseRoute}}
	}
	return nil
}

// mergePhase adds the phase line h to an earlier phase line of the same guard group, so that
// a section's phases get one set of lines; it reports whether it did. A routing line is also
// absorbed by a mod_python handler line of the group, which routes the section already.
func (w *fileWalk) mergePhase(h *handlerLine) bool {
	for _, g := range w.group {
		if g.add == nil {
			continue
		}
		o := g.add.h
		if len(o.phases) > 0 {
			o.phases = append(o.phases, h.phases...)
			return true
		}
		if o.set && len(h.phases) == 1 && h.phases[0] == phaseRoute {
			return true
		}
	}
	return false
}

// phasePlan is what a section's phase lines need.
type phasePlan struct {
	route bool     // SetHandler to mpgate: the responder runs some phase
	grant bool     // Require all granted: the responder checks the user
	authz []string // lines for the authorizers (inside <IfDefine !MPGATE>)
}

// planPhases decides how the phases of one addition reach mpgate, for a section whose AuthType
// is authType ("" when the section sets none).
func (rw *rewriter) planPhases(a *addition, authType string) phasePlan {
	var p phasePlan
	has := map[phaseUse]bool{}
	for _, ph := range a.h.phases {
		has[ph] = true
	}
	if has[phaseRoute] || has[phaseAccess] {
		p.route = true
	}
	basic := authType == "" || strings.EqualFold(authType, "Basic")
	where := a.file + ":" + strconv.Itoa(a.line.first)
	switch rw.opts.Via {
	case ViaProxy:
		if has[phaseAuthen] {
			p.authz = append(p.authz,
				"<IfDefine !MPGATE_AUTHZ_PORT>",
				`    Error "mpgate: the PythonAuthenHandler of `+strings.ReplaceAll(where, `"`, `'`)+` runs through mod_authnz_fcgi: Define MPGATE_AUTHZ_PORT (the port of mpgate serve --authz-listen) before including mpgate-proxy.conf"`,
				"</IfDefine>",
				"CGIPassAuth On",
				`AuthnzFcgiCheckAuthnProvider mpgate-authn Authoritative On RequireBasicAuth Off UserExpr "%{reqenv:MPGATE_USER}"`)
		} else if has[phaseAuthz] {
			// Apache's own modules authenticate; the responder authorizes.
			p.route = true
		}
	case ViaFcgid:
		cmd := `"` + strings.TrimSuffix(strings.TrimPrefix(rw.wrapper, `FcgidWrapper "`), `" virtual`) + `"`
		if (has[phaseAuthen] || has[phaseAuthz]) && !basic {
			// FcgidAuthenticator reads Basic credentials only.
			p.route, p.grant = true, true
		} else {
			if has[phaseAuthen] {
				p.authz = append(p.authz, "CGIPassAuth On", "AuthBasicProvider file", "AuthUserFile /dev/null",
					"AuthBasicAuthoritative Off", "FcgidAuthenticator "+cmd)
			}
			if has[phaseAuthz] {
				p.authz = append(p.authz, "FcgidAuthorizer "+cmd)
			}
		}
	default: // CGI: no authorizer role
		if has[phaseAuthen] || has[phaseAuthz] {
			p.route, p.grant = true, true
		}
	}
	if p.grant {
		p.authz = append(p.authz, "Require all granted")
	}
	return p
}

// phaseLines returns the lines for the phase addition a landing in the section landing, and
// whether they include the SetHandler routing the section to mpgate. needHandler says whether
// the section has no FastCGI handler from this file yet.
func (w *fileWalk) phaseLines(a *addition, landing *block, needHandler bool) ([]genLine, bool) {
	p := w.rw.planPhases(a, w.sectionAuthType(landing))
	var out []genLine
	routed := false
	if p.route && needHandler {
		out = append(out, genLine{0, w.rw.handler})
		routed = true
	}
	if len(p.authz) == 0 {
		return out, routed
	}
	depth := 0
	server := a.scope == kindTop || a.scope == kindVhost
	if server {
		out = append(out, genLine{0, `<Location "/">`})
		depth = 1
	}
	out = append(out, genLine{depth, "<IfDefine !MPGATE>"})
	for _, l := range p.authz {
		out = append(out, genLine{depth + 1, l})
	}
	out = append(out, genLine{depth, "</IfDefine>"})
	if server {
		out = append(out, genLine{0, "</Location>"})
	}
	return out, routed
}

// sectionAuthType returns the AuthType the section b sets itself (the last one), or "".
func (w *fileWalk) sectionAuthType(b *block) string {
	if b == nil || b.file != w.file {
		return ""
	}
	for i, ln := range w.lines {
		if ln.first != b.line || ln.isComment() {
			continue
		}
		end, ok := w.closeOf[i]
		if !ok {
			return ""
		}
		t := ""
		for j := i + 1; j < end; j++ {
			if w.lines[j].isComment() {
				continue
			}
			if name, args := directive(w.lines[j]); strings.EqualFold(name, "AuthType") {
				if ws := words(args); len(ws) > 0 {
					t = ws[0].val
				}
			}
		}
		return t
	}
	return ""
}
