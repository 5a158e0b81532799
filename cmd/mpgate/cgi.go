// This file is `mpgate cgi`: the relay an Apache with only mod_cgi or
// mod_cgid runs once per request (apache-conf/mpgate-cgi.conf). A site's
// section hands its requests to the relay with Action (mod_actions), an
// internal redirect to the relay's ScriptAlias; the relay turns the CGI
// environment of that redirect back into the FastCGI params mod_fcgid would
// have sent for the original request, sends them with the request body to
// the daemon's FastCGI socket (starting the daemon, as the fcgid relay does,
// when none answers), and copies the daemon's answer, already CGI output, to
// stdout as it comes. It holds no Python, no configuration and no session
// store, and keeps at most one record and replayBytes of body in memory.
//
// What the redirect changes, and how the relay undoes it
// (shared/reference/fastcgi-apache.md §4, C3/C4; httpd http_request.c,
// util_script.c, mod_actions.c):
//
//   - SCRIPT_NAME and SCRIPT_FILENAME name the relay, PATH_INFO is the whole
//     original path, PATH_TRANSLATED the file it maps to (Alias applied).
//     The relay splits PATH_TRANSLATED as Apache's directory walk does (the
//     first component that is not a directory ends the file name, the rest
//     is path info) and takes SCRIPT_NAME, PATH_INFO and SCRIPT_FILENAME from
//     the split. REQUEST_URI and QUERY_STRING are the original's already.
//   - The original request's environment (SetEnv, SetEnvIf and the like of
//     its sections, its REMOTE_USER) arrives only as REDIRECT_X copies: each
//     becomes X again where X is absent. REDIRECT_STATUS, REDIRECT_URL,
//     REDIRECT_QUERY_STRING and REDIRECT_HANDLER describe the redirect itself
//     and are dropped.
//   - The relay's own settings (MPGATE_CGI, MPGATE_CONFIG, MPGATE_RUN_DIR ...,
//     set in its <Location>) configure the relay and are not passed on.

package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/mpgate/mpgate/config"
	"github.com/mpgate/mpgate/fcgi"
)

func cgiCommand() *cli.Command {
	return &cli.Command{
		Name:  "cgi",
		Usage: "relay for mod_cgi/mod_cgid: run once per request by apache-conf/mpgate-cgi.conf's Action",
		Description: "Apache runs this program for every request of a section with SetHandler mpgate-relay\n" +
			"(Action mpgate-relay /mpgate-cgi virtual, ScriptAlias /mpgate-cgi MPGATE). It relays the\n" +
			"request to the daemon on RUN-DIR/mpgate.sock, starting the daemon (mpgate serve with the\n" +
			"same flags, exiting after --idle-exit, logging to RUN-DIR/daemon.log) when none is running.\n" +
			"A ScriptAlias names one program and no arguments: Apache runs the mpgate binary itself,\n" +
			"which acts as `mpgate cgi` when the environment has MPGATE_CGI, and takes its flags from\n" +
			"the environment (SetEnv MPGATE_CONFIG, MPGATE_RUN_DIR ... in <Location /mpgate-cgi>).",
		Flags:  append(siteFlags(), daemonFlags()...),
		Action: cgiMain,
	}
}

// cgiRequested reports whether Apache ran the mpgate binary as the CGI
// relay of apache-conf/mpgate-cgi.conf: ScriptAlias names the binary, with
// no subcommand, and mod_cgi adds the words of a query string without "="
// as arguments (CGI's ISINDEX form), so the command line cannot say it; the
// snippet's SetEnv MPGATE_CGI does, with CGI's GATEWAY_INTERFACE beside it.
func cgiRequested() bool {
	return os.Getenv("MPGATE_CGI") != "" && strings.HasPrefix(os.Getenv("GATEWAY_INTERFACE"), "CGI/")
}

// replayBytes is how much of the request body the relay keeps while the
// daemon has not answered: a daemon that goes away before answering (its
// idle exit racing the request) gets the request again, from a daemon
// started anew, if no more of the body than this had been read.
const replayBytes = 64 << 10

// stdinChunk is the size of the relay's reads of the request body.
const stdinChunk = 32 << 10

// cgiError is a request the relay answers itself: the status and reason it
// sends, and the cause, which goes to Apache's error log.
type cgiError struct {
	status int
	reason string
	err    error
}

func (e *cgiError) Error() string { return e.err.Error() }
func (e *cgiError) Unwrap() error { return e.err }

// failf returns a cgiError.
func failf(status int, reason, format string, args ...any) *cgiError {
	return &cgiError{status: status, reason: reason, err: fmt.Errorf(format, args...)}
}

// badGateway is the relay's answer when the daemon fails the request.
func badGateway(format string, args ...any) *cgiError {
	return failf(502, "Bad Gateway", format, args...)
}

// unavailable is the relay's answer when no daemon can take the request.
func unavailable(format string, args ...any) *cgiError {
	return failf(503, "Service Unavailable", format, args...)
}

func cgiMain(c *cli.Context) error {
	// One request per process: one P keeps the runtime's threads, and so
	// the relay's memory and start-up, to the minimum.
	runtime.GOMAXPROCS(1)
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	run, sock, _, err := runDirs(c)
	if err != nil {
		return err
	}
	env := os.Environ()
	params, err := cgiParams(env, os.Stat)
	if err == nil {
		err = checkParamsSize(params)
	}
	r := &cgiRelay{
		head:  appendRequestHead(nil, params),
		stdin: os.Stdin, stdout: os.Stdout, log: log,
		dial: func() (net.Conn, error) { return net.Dial("unix", sock) },
		start: func() (net.Conn, error) {
			// A CGI program's stderr is a pipe that ends with its request:
			// the daemon, which outlives it, logs to a file.
			if err := os.MkdirAll(run, 0o755); err != nil {
				return nil, fmt.Errorf("run directory: %w", err)
			}
			out, err := os.OpenFile(filepath.Join(run, "daemon.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
			if err != nil {
				return nil, fmt.Errorf("daemon log: %w", err)
			}
			defer out.Close()
			closeInheritedFDs()
			return startDaemon(daemonStart{
				run: run, sock: sock, args: serveArgs(c), env: daemonEnv(env),
				output: out, where: out.Name(), log: log,
			})
		},
	}
	if err != nil {
		return r.fail(err)
	}
	return r.serve(c.Context)
}

// cgiRelay relays one CGI request to the daemon.
type cgiRelay struct {
	head        []byte // BEGIN_REQUEST and PARAMS records
	stdin       io.Reader
	stdout      io.Writer
	log         *slog.Logger // stderr: Apache's error log
	dial, start func() (net.Conn, error)

	answered atomic.Bool // the daemon sent a record: the request cannot be sent again
	wrote    bool        // something of the response went to stdout

	mu       sync.Mutex // guards conn, replay, replayOK, bodyDone
	conn     net.Conn
	replay   []byte // body bytes sent so far, while replayOK
	replayOK bool   // replay holds the whole body sent so far
	bodyDone bool   // the empty STDIN record was sent
}

// serve sends the request and copies the answer; it returns nil or a
// cli.ExitCoder with the daemon's application status.
func (r *cgiRelay) serve(ctx context.Context) error {
	conn, err := r.connect()
	if err != nil {
		return r.fail(err)
	}
	// The head first, before the body and the answer: a connection that
	// fails from here on gets the whole request again (resend).
	conn.Write(r.head)
	r.mu.Lock()
	r.conn, r.replayOK = conn, true
	r.mu.Unlock()
	// Apache ends the relay with SIGTERM (CGI timeout, stop): close the
	// daemon's connection so the read below ends.
	stop := context.AfterFunc(ctx, func() { r.closeConn() })
	defer stop()
	go r.pumpBody()
	for retried := false; ; retried = true {
		status, err := r.copyAnswer(conn)
		if err == nil {
			if status != 0 {
				return cli.Exit("", int(min(status, 255)))
			}
			return nil
		}
		if ctx.Err() != nil {
			return cli.Exit("mpgate cgi: stopped by a signal before the daemon answered", 1)
		}
		if retried || r.answered.Load() {
			return r.fail(err)
		}
		// The daemon went away before it read the request (its idle exit
		// or a restart at that moment): send it again, once, to a daemon
		// found or started anew, if the body read so far is all kept.
		if conn, err = r.resend(); err != nil {
			return r.fail(err)
		}
	}
}

// connect returns a connection to the daemon, starting it if none answers.
func (r *cgiRelay) connect() (net.Conn, error) {
	conn, err := r.dial()
	if err == nil {
		return conn, nil
	}
	conn, serr := r.start()
	if serr != nil {
		return nil, unavailable("mpgate daemon unavailable: %v (and starting one: %v)", err, serr)
	}
	return conn, nil
}

// resend sends the request again, on a new connection: the head, the body
// kept so far and, if the body has ended, the empty STDIN record.
func (r *cgiRelay) resend() (net.Conn, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.replayOK {
		return nil, badGateway("mpgate daemon closed the connection before answering, after more than %d bytes of the request body were sent", replayBytes)
	}
	r.conn.Close()
	conn, err := r.connect()
	if err != nil {
		return nil, err
	}
	b := append([]byte(nil), r.head...)
	if len(r.replay) > 0 {
		b = fcgi.AppendRecord(b, fcgi.TypeStdin, 1, r.replay)
	}
	if r.bodyDone {
		b = fcgi.AppendRecord(b, fcgi.TypeStdin, 1, nil)
	}
	if _, err := conn.Write(b); err != nil {
		conn.Close()
		return nil, badGateway("mpgate daemon: send the request again: %v", err)
	}
	r.conn = conn
	return conn, nil
}

func (r *cgiRelay) closeConn() {
	r.mu.Lock()
	if r.conn != nil {
		r.conn.Close()
	}
	r.mu.Unlock()
}

// pumpBody sends the request body as STDIN records as it arrives, then
// the empty record that ends it. Writes go to the current connection; one
// that fails is left for copyAnswer to notice.
func (r *cgiRelay) pumpBody() {
	buf := make([]byte, stdinChunk)
	rec := make([]byte, 0, stdinChunk+16)
	for {
		n, err := r.stdin.Read(buf)
		if n > 0 {
			rec = fcgi.AppendRecord(rec[:0], fcgi.TypeStdin, 1, buf[:n])
			r.mu.Lock()
			if r.replayOK && !r.answered.Load() && len(r.replay)+n <= replayBytes {
				r.replay = append(r.replay, buf[:n]...)
			} else {
				r.replayOK, r.replay = false, nil
			}
			conn := r.conn
			r.mu.Unlock()
			// Not under mu: the daemon may hold the body back until its
			// answer has been read.
			conn.Write(rec)
		}
		if err != nil {
			// io.EOF, or Apache ended the body (client gone): either way
			// the daemon gets the end of the body; a short one shows in
			// CONTENT_LENGTH.
			r.mu.Lock()
			r.bodyDone = true
			conn := r.conn
			r.mu.Unlock()
			conn.Write(fcgi.AppendRecord(nil, fcgi.TypeStdin, 1, nil))
			return
		}
	}
}

// copyAnswer copies the daemon's STDOUT to stdout and STDERR to stderr
// until END_REQUEST, and returns the application status.
func (r *cgiRelay) copyAnswer(conn net.Conn) (uint32, error) {
	rr := fcgi.NewRecordReader(conn)
	for {
		rec, err := rr.Read()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) {
				if r.wrote {
					return 0, badGateway("mpgate daemon closed the connection in the middle of the response")
				}
				return 0, badGateway("mpgate daemon closed the connection before answering")
			}
			return 0, badGateway("mpgate daemon: %v", err)
		}
		if rec.ID != 1 {
			return 0, badGateway("mpgate daemon sent a %v record for request %d, want 1", rec.Type, rec.ID)
		}
		r.answered.Store(true)
		switch rec.Type {
		case fcgi.TypeStdout:
			if len(rec.Content) > 0 {
				r.wrote = true
				if _, err := r.stdout.Write(rec.Content); err != nil {
					return 0, fmt.Errorf("write the response to Apache: %w", err)
				}
			}
		case fcgi.TypeStderr:
			// A record is one line of a handler's log. mod_proxy_fcgi and
			// mod_fcgid log each as an error_log line with its date;
			// mod_cgi copies a CGI program's stderr as it is, so the relay
			// writes the line in error_log's format itself.
			if line := strings.TrimRight(string(rec.Content), "\n"); line != "" {
				r.log.Error(line)
			}
		case fcgi.TypeEndRequest:
			if len(rec.Content) != 8 {
				return 0, badGateway("mpgate daemon sent END_REQUEST with %d bytes, want 8", len(rec.Content))
			}
			app, proto := binary.BigEndian.Uint32(rec.Content), rec.Content[4]
			if proto != fcgi.StatusRequestComplete {
				return 0, unavailable("mpgate daemon refused the request (FastCGI protocol status %d)", proto)
			}
			if !r.wrote {
				return 0, badGateway("mpgate daemon ended the request without a response")
			}
			return app, nil
		default:
			return 0, badGateway("mpgate daemon sent an unexpected %v record", rec.Type)
		}
	}
}

// fail answers the request with err's status, if nothing of the response
// went out yet, and returns the error that logs err's cause and exits.
func (r *cgiRelay) fail(err error) error {
	var ce *cgiError
	if !errors.As(err, &ce) {
		ce = failf(500, "Internal Server Error", "%v", err)
	}
	if !r.wrote {
		r.wrote = true
		// The cause names files of the server: it goes to the error log
		// only, as Apache's own error pages keep them from clients.
		fmt.Fprintf(r.stdout, "Status: %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%d %s (mpgate: see the server's error log)\n",
			ce.status, ce.reason, ce.status, ce.reason)
	}
	return cli.Exit("mpgate cgi: "+err.Error(), 1)
}

// appendRequestHead appends BEGIN_REQUEST (RESPONDER, no KEEP_CONN) and the
// PARAMS stream.
func appendRequestHead(b []byte, params []fcgi.Param) []byte {
	b = fcgi.AppendBeginRequest(b, 1, fcgi.RoleResponder, false)
	b = fcgi.AppendRecord(b, fcgi.TypeParams, 1, fcgi.AppendParams(nil, params))
	return fcgi.AppendRecord(b, fcgi.TypeParams, 1, nil)
}

// checkParamsSize refuses params the daemon would refuse
// (fcgi.DefaultMaxParamsBytes), naming the largest.
func checkParamsSize(params []fcgi.Param) error {
	total, big := 0, fcgi.Param{}
	for _, p := range params {
		total += len(p.Name) + len(p.Value) + 8
		if len(p.Value) > len(big.Value) {
			big = p
		}
	}
	if total <= fcgi.DefaultMaxParamsBytes {
		return nil
	}
	status, reason := 500, "Internal Server Error"
	switch {
	case uriVars[big.Name]:
		status, reason = 414, "Request-URI Too Long"
	case strings.HasPrefix(big.Name, "HTTP_"):
		status, reason = 431, "Request Header Fields Too Large"
	}
	return failf(status, reason, "the request's CGI environment is %d bytes, more than the %d the daemon accepts (the largest variable is %s, %d bytes)",
		total, fcgi.DefaultMaxParamsBytes, big.Name, len(big.Value))
}

// uriVars are the variables made from the request's URI.
var uriVars = map[string]bool{
	"REQUEST_URI": true, "QUERY_STRING": true, "SCRIPT_NAME": true, "SCRIPT_FILENAME": true,
	"PATH_INFO": true, "PATH_TRANSLATED": true,
}

// actionVars are set by the internal redirect to the relay and by
// mod_actions; they describe the redirect, not the request.
var actionVars = map[string]bool{
	"REDIRECT_STATUS": true, "REDIRECT_URL": true, "REDIRECT_QUERY_STRING": true, "REDIRECT_HANDLER": true,
}

// mappedVars are the variables the relay computes from the split of
// PATH_TRANSLATED; the redirect's own values name the relay.
var mappedVars = map[string]bool{
	"SCRIPT_NAME": true, "SCRIPT_FILENAME": true, "PATH_INFO": true, "PATH_TRANSLATED": true,
	"CONTEXT_PREFIX": true, "CONTEXT_DOCUMENT_ROOT": true,
}

// relaySettings returns the environment variables that configure the relay:
// the flags' variables and MPGATE_CGI.
func relaySettings() map[string]bool {
	set := map[string]bool{"MPGATE_CGI": true}
	for _, f := range append(siteFlags(), daemonFlags()...) {
		if ef, ok := f.(interface{ GetEnvVars() []string }); ok {
			for _, e := range ef.GetEnvVars() {
				set[e] = true
			}
		}
	}
	return set
}

// cgiParams returns the FastCGI params of the request whose Action
// redirect has the CGI environment env (NAME=VALUE entries, in Apache's
// order), as mod_fcgid would send them for the original request. stat is
// os.Stat, for the directory walk.
func cgiParams(env []string, stat func(string) (os.FileInfo, error)) ([]fcgi.Param, error) {
	settings := relaySettings()
	var kept []fcgi.Param
	var orig []fcgi.Param // REDIRECT_X copies, as X
	have := map[string]bool{}
	vars := map[string]string{}
	for _, e := range env {
		name, value, ok := strings.Cut(e, "=")
		if !ok || name == "" {
			return nil, failf(500, "Internal Server Error", "environment entry %.64q is not NAME=VALUE", e)
		}
		for i := 0; i < len(name); i++ {
			if c := name[i]; c <= ' ' || c >= 0x7f {
				return nil, failf(500, "Internal Server Error", "environment variable %.64q: byte %#02x in its name (want printable ASCII)", name, c)
			}
		}
		vars[name] = value
		switch {
		case settings[name] || actionVars[name] || mappedVars[name]:
		case strings.HasPrefix(name, "REDIRECT_"):
			orig = append(orig, fcgi.Param{Name: name[len("REDIRECT_"):], Value: value})
		default:
			kept = append(kept, fcgi.Param{Name: name, Value: value})
			have[name] = true
		}
	}
	if _, ok := vars["REDIRECT_HANDLER"]; !ok {
		return nil, failf(403, "Forbidden", "request for %s did not come through Action (no REDIRECT_HANDLER): the relay serves only the sections that name its handler", vars["REQUEST_URI"])
	}
	for _, p := range orig {
		if !have[p.Name] && !mappedVars[p.Name] && !settings[p.Name] {
			kept = append(kept, p)
			have[p.Name] = true
		}
	}
	m, err := mapAction(vars, stat)
	if err != nil {
		return nil, err
	}
	kept = append(kept, fcgi.Param{Name: "SCRIPT_NAME", Value: m.scriptName}, fcgi.Param{Name: "SCRIPT_FILENAME", Value: m.filename})
	if m.pathInfo != "" {
		kept = append(kept, fcgi.Param{Name: "PATH_INFO", Value: m.pathInfo}, fcgi.Param{Name: "PATH_TRANSLATED", Value: m.pathTranslated})
	}
	if m.contextKnown {
		kept = append(kept, fcgi.Param{Name: "CONTEXT_PREFIX", Value: m.contextPrefix}, fcgi.Param{Name: "CONTEXT_DOCUMENT_ROOT", Value: m.contextRoot})
	}
	return append(kept, fcgi.Param{Name: "MPGATE_TRANSPORT", Value: "cgi"}), nil
}

// actionMapping is the original request's mapping, recovered.
type actionMapping struct {
	scriptName, filename, pathInfo, pathTranslated string
	contextPrefix, contextRoot                     string
	contextKnown                                   bool
}

// mapAction recovers the original request's file name and path info from
// the redirect's PATH_INFO (the original path) and PATH_TRANSLATED (the file
// Apache maps it to, Alias applied).
func mapAction(vars map[string]string, stat func(string) (os.FileInfo, error)) (actionMapping, error) {
	var m actionMapping
	uri, ok := vars["PATH_INFO"]
	if !ok || !strings.HasPrefix(uri, "/") {
		return m, failf(500, "Internal Server Error", "PATH_INFO %q is not the original request's path: the relay must be the target of Action ... virtual", uri)
	}
	root := vars["DOCUMENT_ROOT"]
	translated, ok := vars["PATH_TRANSLATED"]
	if !ok {
		// Apache sets it whenever the path maps to a file name, which
		// core's translation always gives.
		if root == "" {
			return m, failf(500, "Internal Server Error", "no PATH_TRANSLATED and no DOCUMENT_ROOT to map %q to a file", uri)
		}
		translated = strings.TrimSuffix(root, "/") + uri
	}
	if !strings.HasPrefix(translated, "/") {
		return m, failf(500, "Internal Server Error", "PATH_TRANSLATED %q is not an absolute path", translated)
	}
	m.filename, m.pathInfo = config.SplitPathInfo(translated, stat)
	if !strings.HasSuffix(uri, m.pathInfo) {
		return m, failf(500, "Internal Server Error", "cannot split %q as Apache did: its file %q leaves path info %q, which does not end the path", uri, translated, m.pathInfo)
	}
	m.scriptName = uri[:len(uri)-len(m.pathInfo)]
	if m.pathInfo != "" {
		// As Apache's ap_add_cgi_vars, which looks PATH_INFO up as a URI:
		// without the configuration, under DocumentRoot.
		m.pathTranslated = strings.TrimSuffix(root, "/") + m.pathInfo
	}
	// CONTEXT_PREFIX and CONTEXT_DOCUMENT_ROOT: "" and DocumentRoot, or the
	// Alias the path went through. The alias is the part of the path and of
	// its file that precedes their longest common run of whole components.
	if root != "" {
		uPre, fPre := commonTail(uri, translated)
		m.contextKnown = true
		if fPre == strings.TrimSuffix(root, "/") && uPre == "" {
			m.contextPrefix, m.contextRoot = "", root
		} else {
			m.contextPrefix, m.contextRoot = uPre, fPre
		}
	}
	return m, nil
}

// commonTail returns what precedes the longest run of whole components
// that uri and file end with.
func commonTail(uri, file string) (uriPrefix, filePrefix string) {
	i, j := len(uri), len(file)
	for i > 0 && j > 0 {
		a, b := strings.LastIndexByte(uri[:i], '/'), strings.LastIndexByte(file[:j], '/')
		if a < 0 || b < 0 || uri[a:i] != file[b:j] {
			break
		}
		i, j = a, b
	}
	return uri[:i], file[:j]
}

// requestVarPrefixes and requestVars name the per-request variables of a
// CGI environment, which a daemon the relay starts must not inherit.
var requestVarPrefixes = []string{"HTTP_", "REDIRECT_", "SSL_", "CONTEXT_", "SERVER_", "REMOTE_", "REQUEST_", "SCRIPT_"}

var requestVars = map[string]bool{
	"GATEWAY_INTERFACE": true, "QUERY_STRING": true, "PATH_INFO": true, "PATH_TRANSLATED": true,
	"DOCUMENT_ROOT": true, "CONTENT_TYPE": true, "CONTENT_LENGTH": true, "AUTH_TYPE": true, "HTTPS": true,
	"UNIQUE_ID": true, "HANDLER": true, "ap_trust_cgilike_cl": true, "MPGATE_CGI": true,
	"MPGATE_VHOST": true, "MPGATE_CLIENT_HEADERS": true, "MPGATE_CONTENT_LENGTH": true,
	"MPGATE_TRANSFER_ENCODING": true, "MPGATE_HTTP_CONNECTION": true,
}

// daemonEnv returns the environment of a daemon the relay starts: the
// relay's, less the request's variables (PATH and what the relay's
// <Location> sets or passes stay).
func daemonEnv(env []string) []string {
	var out []string
	for _, e := range env {
		name, _, _ := strings.Cut(e, "=")
		drop := requestVars[name]
		for _, p := range requestVarPrefixes {
			drop = drop || strings.HasPrefix(name, p)
		}
		if !drop {
			out = append(out, e)
		}
	}
	return out
}
