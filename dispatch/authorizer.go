// This file serves FastCGI AUTHORIZER requests: Apache's access, authentication and
// authorization phases handed to mpgate by mod_authnz_fcgi (AuthnzFcgiCheckAuthnProvider) and
// by mod_fcgid (FcgidAccessChecker, FcgidAuthenticator, FcgidAuthorizer), which run
// PythonAccessHandler, PythonAuthenHandler and PythonAuthzHandler in a worker
// (shared/reference/fastcgi-apache.md §1.8, §3, §11). It also decides which phases a responder
// request runs besides the content handler.
//
// A successful AUTHORIZER request is answered "Status: 200 OK" with two variables, which
// Apache passes to the responder as parameters (a variable repeated by several AUTHORIZER calls
// of one request is joined with ", "):
//
//	Variable-MPGATE_USER: req.user after PythonAuthenHandler (mod_authnz_fcgi's UserExpr)
//	Variable-MPGATE_PHASES: the phases run, e.g. "PythonAuthenHandler,PythonAuthzHandler"
//
// and nothing else (other headers would reach the client). The responder skips the phases
// MPGATE_PHASES names. A failure is the handler's status: with mod_authnz_fcgi, whose
// check_user_id hook sends the authorizer's response to the client, the whole error response
// (reason phrase, err_headers_out, WWW-Authenticate, the error document); with mod_fcgid, which
// answers any failure with its own 401, the status line alone.

package dispatch

import (
	"net"
	"net/url"
	"path"
	"strings"

	"github.com/mpgate/mpgate/config"
	"github.com/mpgate/mpgate/fcgi"
)

// Phase names, as mod_python's directives.
const (
	phaseAccess = "PythonAccessHandler"
	phaseAuthen = "PythonAuthenHandler"
	phaseAuthz  = "PythonAuthzHandler"
)

// earlyPhases run before URI translation, with the virtual host's handler lists.
var earlyPhases = []string{"PythonInitHandler", "PythonPostReadRequestHandler", "PythonTransHandler"}

// requestPhases are the phases a responder runs besides the content handler, in order; the
// authentication ones only when Apache would (config.Merged.AuthRequired). PythonLogHandler
// and PythonCleanupHandler are left out: they run only once another phase brought the request
// to Python (mod_python registers its cleanup with the request object).
var requestPhases = []string{"PythonInitHandler", "PythonPostReadRequestHandler", "PythonTransHandler",
	"PythonHeaderParserHandler", phaseAccess, phaseAuthen, phaseAuthz, "PythonTypeHandler", "PythonFixupHandler"}

// authorizer is the state of an AUTHORIZER request.
type authorizer struct {
	phases []string // the phases to run, in order
	authnz bool     // mod_authnz_fcgi (FCGI_ROLE present): the response reaches the client
	failed bool     // a failure response went out
}

// phasesDone returns the phases the request's authorizers ran (MPGATE_PHASES), "" if none.
func phasesDone(r *fcgi.Request) string { return r.Param("MPGATE_PHASES") }

// phaseIn reports whether the MPGATE_PHASES list done names phase.
func phaseIn(done, phase string) bool {
	for done != "" {
		var p string
		p, done, _ = strings.Cut(done, ",")
		if strings.TrimSpace(p) == phase {
			return true
		}
	}
	return false
}

// phaseWork reports whether a phase besides the content handler has handlers to run for m
// (done lists those an authorizer ran) and returns the interpreter of the first such phase.
// It does not allocate.
func phaseWork(m *config.Merged, done string) (string, bool) {
	for _, phase := range requestPhases {
		if (phase == phaseAuthen || phase == phaseAuthz) && !m.AuthRequired {
			continue
		}
		if hs, interp := m.Phase(phase); len(hs) > 0 && !phaseIn(done, phase) {
			return interp, true
		}
	}
	return "", false
}

// hasContentHandlers reports whether PythonHandler has a list for m.
func hasContentHandlers(m *config.Merged) bool {
	hs, _ := m.Phase("PythonHandler")
	return len(hs) > 0
}

// AuthorizerHandler returns the handler of a listener that serves only AUTHORIZER requests
// (mpgate serve --authz-listen: TCP, for mod_authnz_fcgi, which cannot use unix sockets). Any
// local user can connect to it, so a RESPONDER request there, whose parameters
// (REMOTE_USER, MPGATE_PHASES) would be believed, is refused with 403 and a log line naming
// the listener.
func (s *Server) AuthorizerHandler(listener string) fcgi.Handler {
	return fcgi.HandlerFunc(func(w *fcgi.Response, r *fcgi.Request) uint32 {
		if r.Role == fcgi.RoleAuthorizer {
			return s.ServeFCGI(w, r)
		}
		s.log.Error("refused a request on the authorizer listener: it serves only AUTHORIZER requests",
			"listener", listener, "role", r.Role.String(), "uri", r.Param("REQUEST_URI"), "remote", remoteOf(r))
		const body = "mpgate: this listener serves only FastCGI AUTHORIZER requests\n"
		w.Write([]byte("Status: 403 Forbidden\r\nContent-Type: text/plain\r\n\r\n" + body))
		return 0
	})
}

func remoteOf(r *fcgi.Request) string {
	if r.Conn == nil {
		return ""
	}
	if a := r.Conn.RemoteAddr(); a != nil {
		if ta, ok := a.(*net.TCPAddr); ok {
			return ta.String()
		}
		return a.String()
	}
	return ""
}

// serveAuthorizer serves an AUTHORIZER request.
func (x *exchange) serveAuthorizer() {
	r := x.r
	a := &authorizer{authnz: r.Param("FCGI_ROLE") != ""}
	x.authz = a
	switch role := r.Param("FCGI_APACHE_ROLE"); role {
	case "ACCESS_CHECKER":
		a.phases = []string{phaseAccess}
	case "AUTHENTICATOR":
		// mod_authnz_fcgi's check_user_id hook: the authorization phase runs
		// in the same call, so that its exact status reaches the client.
		a.phases = []string{phaseAuthen}
		if a.authnz {
			a.phases = append(a.phases, phaseAuthz)
		}
	case "AUTHORIZER":
		a.phases = []string{phaseAuthz}
	case "":
		// mod_authnz_fcgi's "authnz" provider type: one call for both.
		a.phases = []string{phaseAuthen, phaseAuthz}
	default:
		x.log().Error("AUTHORIZER request with an unknown FCGI_APACHE_ROLE", "role", role)
		x.writeHead(500, "", nil)
		return
	}
	cfg := x.s.cfg.Load()
	q := queryOf(r)
	if q.URI == "" {
		// No SCRIPT_NAME nor PATH_INFO in an AUTHORIZER request: Apache's
		// r->uri is REQUEST_URI's path, decoded.
		q.URI = requestPath(r.Param("REQUEST_URI"))
	}
	x.m = cfg.Lookup(q)
	if x.m.Err != nil {
		// A broken .htaccess on the way refuses the request here too.
		x.log().Error(x.m.Err.Error())
		x.authzFailure(x.m.Status, nil)
		return
	}
	x.base = cfg.BaseServer(q)
	x.interp = ""
	for _, phase := range a.phases {
		if hs, interp := x.m.Phase(phase); len(hs) > 0 {
			x.interp = interp
			break
		}
	}
	if x.interp == "" {
		if a.phases[0] == phaseAuthen {
			// Nothing would check the password: refuse rather than let
			// Apache take the user name as authenticated.
			x.log().Error("AUTHENTICATOR request but no PythonAuthenHandler applies; refusing it",
				"uri", q.URI, "filename", q.Filename)
			x.stderr("mpgate: no PythonAuthenHandler applies to " + q.URI + "; the authenticator refuses the request")
			x.authzFailure(500, nil)
			return
		}
		// No handler: the phases decline, which lets the request through.
		x.authzSuccess("", strings.Join(a.phases, ","))
		return
	}
	x.meta = x.buildMeta(q)
	x.runWorker(cfg)
}

// requestPath returns the decoded, normalised path of a REQUEST_URI.
func requestPath(uri string) string {
	p, _, _ := strings.Cut(uri, "?")
	if u, err := url.PathUnescape(p); err == nil {
		p = u
	}
	if p == "" || p[0] != '/' {
		return "/"
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// head handles the worker's HEADERS for an AUTHORIZER request; it reports whether it answered
// in the worker's place (the worker's output is then dropped). A handler that writes a response
// (PythonDebug's error page, say) gets it to the client through mod_authnz_fcgi when it is an
// error; mod_fcgid gets the status alone; a 200 would authorize, so it becomes a 500.
func (a *authorizer) head(x *exchange, h *HeadersFrame) bool {
	if h.Status == 200 {
		x.log().Error("an authorization handler sent a 200 response; an authorizer's 200 would let the request through, so it is refused", "uri", x.r.Param("REQUEST_URI"))
		x.authzFailure(500, nil)
		return true
	}
	if !a.authnz {
		x.authzFailure(h.Status, nil)
		return true
	}
	a.failed = true
	return false
}

// finishAuthorizer answers an AUTHORIZER request after the worker's END.
func (x *exchange) finishAuthorizer(e *EndFrame) {
	if x.headersSent {
		return // the worker's own error response, already relayed
	}
	switch {
	case e.Result == ResultOK:
		phases, ok := lookupKV(e.Info, "authorizer")
		if !ok {
			x.log().Error("worker ended an AUTHORIZER request without its result")
			x.authzFailure(500, nil)
			return
		}
		user, _ := lookupKV(e.Info, "user")
		x.authzSuccess(user, phases)
	case e.Result >= 300 && e.Result <= 599:
		x.authzFailure(e.Result, e.Headers)
	default:
		x.log().Error("authorization handler ended the request without a failure status; refusing it", "result", e.Result)
		x.authzFailure(500, nil)
	}
}

// authzSuccess answers 200 with the variables the responder reads.
func (x *exchange) authzSuccess(user, phases string) {
	hs := make([]KV, 0, 2)
	if user != "" {
		hs = append(hs, KV{"Variable-MPGATE_USER", user})
	}
	hs = append(hs, KV{"Variable-MPGATE_PHASES", phases})
	if err := x.writeHead(200, "", hs); err != nil {
		x.log().Error("authorizer response not sent", "err", err)
		x.writeHead(500, "", nil)
	}
}

// authzFailure answers a failed AUTHORIZER request with status: for mod_authnz_fcgi the error
// response the responder would send (err_headers_out kept), for mod_fcgid the status alone.
func (x *exchange) authzFailure(status int, headers []KV) {
	x.authz.failed = true
	if !x.authz.authnz {
		x.writeHead(status, "", nil)
		return
	}
	if x.m != nil && strings.EqualFold(x.m.AuthType, "Basic") && x.m.AuthName != "" && !basicCredentials(x.r) {
		// mod_authnz_fcgi called ap_get_basic_auth_pw, which found no Basic
		// credentials and added this very challenge already: Apache would
		// send both, joined.
		challenge := `Basic realm="` + x.m.AuthName + `"`
		kept := headers[:0:0]
		for _, h := range headers {
			if !(strings.EqualFold(h.Key, "WWW-Authenticate") && h.Value == challenge) {
				kept = append(kept, h)
			}
		}
		headers = kept
	}
	x.errorResponse(status, headers)
}

// basicCredentials reports whether the request carries Basic credentials, as
// ap_get_basic_auth_pw reads them.
func basicCredentials(r *fcgi.Request) bool {
	auth := strings.TrimSpace(r.Param("HTTP_AUTHORIZATION"))
	scheme, _, _ := strings.Cut(auth, " ")
	return strings.EqualFold(scheme, "Basic")
}

func lookupKV(kvs []KV, key string) (string, bool) {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return "", false
}
