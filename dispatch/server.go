// This file turns one FastCGI request into one worker exchange: it maps the
// CGI parameters to the request as mod_python saw it, finds the merged Python
// configuration, runs the request on a worker of the right interpreter, and
// writes the worker's response back as a CGI response.

package dispatch

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mpgate/mpgate/config"
	"github.com/mpgate/mpgate/fcgi"
	"github.com/mpgate/mpgate/importer"
	"github.com/mpgate/mpgate/session"
)

// Options configures a Server. Zero values mean the documented defaults.
type Options struct {
	// Python is the interpreter workers run. Default "/usr/bin/python3",
	// Debian's, where a site's python3-* packages live.
	Python string
	// StateDir is where the embedded runtime is unpacked. Required.
	StateDir string
	// MaxWorkers bounds the worker processes of one interpreter name.
	// Each serves one request at a time. Default DefaultMaxWorkers.
	MaxWorkers int
	// MinIdle workers of the default interpreter, and of each interpreter a
	// PythonImport names, are started at once (Warm) and kept when idle.
	// Default 1.
	MinIdle int
	// IdleTimeout stops workers unused for this long. Default 5 minutes;
	// negative disables reaping.
	IdleTimeout time.Duration
	// RequestTimeout bounds one request from the moment it has a worker;
	// past it the worker is killed. Apache sends no disconnect signal, so
	// this is what frees a worker stuck in a handler. Default 300 s
	// (Apache's Timeout).
	RequestTimeout time.Duration
	// QueueTimeout bounds the wait for a free worker. Default 60 s.
	QueueTimeout time.Duration
	// MaxBodyBytes bounds a request body read by a handler; past it the
	// request fails with 413. Default 1 GiB; negative means no limit.
	MaxBodyBytes int64
	// MaxRequestsPerWorker recycles a worker after that many requests.
	// Default 0: never.
	MaxRequestsPerWorker int
	// StopGrace is how long a stopping worker may take before it is
	// killed. Default 10 s.
	StopGrace time.Duration
	// Env is the workers' environment (besides MPGATE_*). Default: PATH,
	// LANG and LC_ALL from the daemon's environment.
	Env []string
	// Credential, when set, is the user and group workers run as (the
	// daemon started as root runs handlers as Apache's user, as mod_python
	// did). Nil: the daemon's own.
	Credential *syscall.Credential
	// Defines are names apache.exists_config_define knows besides the
	// configuration's own (config.Config.Defines: its -D names, MPGATE and
	// its Define directives).
	Defines []string
	// Logger receives the daemon's log; nil discards.
	Logger *slog.Logger
	// Watch says how changed site modules are noticed: "auto" (inotify,
	// polling where that fails; the default), "poll" or "off" (modules are
	// never reloaded in place, as in Debian's mod_python 3.5).
	Watch string
	// PollInterval is the polling period where files are polled. Default 1 s.
	PollInterval time.Duration
	// Sessions, when set, serves mod_python sessions (the session.* CALL
	// methods); the Server does not close it.
	Sessions session.Store
	// SessionLockWait bounds the wait for a session lock held by another
	// request (the request's own deadline bounds it too). Default
	// DefaultSessionLockWait.
	SessionLockWait time.Duration
}

// DefaultMaxWorkers is the default bound of workers per interpreter.
var DefaultMaxWorkers = max(4, 2*runtime.NumCPU())

func (o *Options) setDefaults() {
	if o.Python == "" {
		o.Python = "/usr/bin/python3"
	}
	if o.MaxWorkers <= 0 {
		o.MaxWorkers = DefaultMaxWorkers
	}
	if o.MinIdle == 0 {
		o.MinIdle = 1
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = 5 * time.Minute
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 300 * time.Second
	}
	if o.QueueTimeout <= 0 {
		o.QueueTimeout = 60 * time.Second
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = 1 << 30
	}
	if o.StopGrace <= 0 {
		o.StopGrace = 10 * time.Second
	}
	if o.Env == nil {
		for _, k := range []string{"PATH", "LANG", "LC_ALL", "TZ"} {
			if v, ok := os.LookupEnv(k); ok {
				o.Env = append(o.Env, k+"="+v)
			}
		}
		if os.Getenv("PATH") == "" {
			o.Env = append(o.Env, "PATH=/usr/local/bin:/usr/bin:/bin")
		}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Watch == "" {
		o.Watch = "auto"
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.SessionLockWait <= 0 {
		o.SessionLockWait = DefaultSessionLockWait
	}
}

// Server runs requests on worker pools. It implements fcgi.Handler.
type Server struct {
	opts Options
	log  *slog.Logger
	boot string
	cfg  atomic.Pointer[config.Config]

	mu        sync.Mutex // guards pools, closed
	recycleMu sync.Mutex // serialises Recycle
	pools     map[string]*Pool
	closed    bool

	// warm are the interpreters kept warm (MinIdle workers each): the main
	// server's, and every one a PythonImport names, whose imports mod_python
	// runs when a child starts whether or not a request comes.
	warm atomic.Pointer[[]string]

	callsMu sync.RWMutex // guards calls
	calls   map[string]CallFunc

	// requestEnded, when set, runs after every request, however it ended
	// (it releases the request's session locks).
	requestEnded func(reqID uint64)

	watcher *importer.Watcher  // nil when Watch is "off"
	modules *importer.Registry // the site modules each worker has loaded

	nextCfgID atomic.Uint32
	nextReqID atomic.Uint64

	wireMu sync.Mutex // guards wire, initServers, and cfg's changes (SetConfig)
	wire   map[wireKey]*wireConfig
	// initServers are worker.init's "server" arguments, encoded once per
	// configuration (lifecycle.go).
	initServers []KV
}

// wireConfig is a merged configuration as sent to workers, encoded once.
type wireConfig struct {
	id   uint32
	json []byte
}

// wireKey identifies a wire configuration: the merged configuration and the
// server the connection came to (conn.base_server), which the merge does not
// decide.
type wireKey struct {
	m    *config.Merged
	base *config.VirtualHost
}

// New unpacks the runtime and returns a Server for cfg. Call Warm to start
// the default interpreter's workers, and Close to stop every worker.
func New(cfg *config.Config, opts Options) (*Server, error) {
	if opts.StateDir == "" {
		return nil, errors.New("dispatch: no state directory")
	}
	opts.setDefaults()
	boot, err := UnpackRuntime(opts.StateDir)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, log: opts.Logger, boot: boot, pools: make(map[string]*Pool),
		wire: make(map[wireKey]*wireConfig), calls: make(map[string]CallFunc)}
	if opts.Watch != "off" {
		w, err := importer.NewWatcher(importer.Options{Mode: opts.Watch, PollInterval: opts.PollInterval, Logger: opts.Logger})
		if err != nil {
			return nil, err
		}
		s.watcher = w
	}
	// Without a watcher the registry still knows what each worker loaded,
	// for `mpgate modules`.
	s.modules = importer.NewRegistry(s.watcher, opts.Logger)
	if opts.Sessions != nil {
		s.registerSessions(opts.Sessions)
	}
	s.SetConfig(cfg)
	return s, nil
}

// SetConfig replaces the configuration used by new requests and by the
// workers started from now on (their PythonImports, defines and servers).
func (s *Server) SetConfig(cfg *config.Config) {
	s.wireMu.Lock()
	if old := s.cfg.Swap(cfg); old != nil && old != cfg {
		// Requests still running on the old configuration look up
		// .htaccess files with a stat instead of its watches.
		defer old.Close()
	}
	s.wire = make(map[wireKey]*wireConfig)
	s.initServers = nil
	s.wireMu.Unlock()
	name := cfg.MainServer().ServerName
	if name == "" {
		name = "main_interpreter"
	}
	warm := []string{name}
	for _, imp := range cfg.Imports() {
		if !slices.Contains(warm, imp.Interpreter) {
			warm = append(warm, imp.Interpreter)
		}
	}
	s.warm.Store(&warm)
}

// Warm starts MinIdle workers of the main server's interpreter and of each
// interpreter a PythonImport names, so that the first request does not wait
// for Python to start and the imports run at start-up, as in mod_python's
// children.
func (s *Server) Warm() error {
	names := *s.warm.Load()
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() { // interpreters start side by side: their imports may take a while
			defer wg.Done()
			p, err := s.pool(name)
			if err == nil {
				err = p.warm(s.opts.MinIdle)
			}
			if err != nil {
				errs[i] = fmt.Errorf("interpreter %q: %w", name, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// minIdle is how many idle workers of interp the reaper keeps.
func (s *Server) minIdle(interp string) int {
	if slices.Contains(*s.warm.Load(), interp) {
		return s.opts.MinIdle
	}
	return 0
}

// pool returns the pool of an interpreter, creating it on first use.
func (s *Server) pool(interp string) (*Pool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrPoolClosed
	}
	p := s.pools[interp]
	if p == nil {
		spec := &workerSpec{python: s.opts.Python, boot: s.boot, interp: interp, env: s.opts.Env, cred: s.opts.Credential, log: s.log,
			importTimeout: s.opts.RequestTimeout}
		spec.init = func() ([]byte, bool) { return s.workerInit(interp) }
		spec.optimize = func() bool { return s.cfg.Load().Optimize() }
		spec.onExit = func(w *worker) { s.modules.Forget(w.owner) }
		p = newPool(interp, spec, &s.opts, func() int { return s.minIdle(interp) })
		s.pools[interp] = p
	}
	return p, nil
}

// Close stops every worker of every pool and waits for them.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	pools := s.pools
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range pools {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.close()
		}()
	}
	wg.Wait()
	s.modules.Close()
	if s.watcher != nil {
		s.watcher.Close()
	}
	return nil
}

// Recycle replaces the workers of every pool, new ones ready before old
// ones stop, so that code that cannot be reloaded in place (a changed C
// extension, an installed package, PythonPath) is picked up with no failed
// request. It returns when every old worker has exited, or with ctx's error.
// Concurrent calls are serialised.
func (s *Server) Recycle(ctx context.Context) error {
	s.recycleMu.Lock()
	defer s.recycleMu.Unlock()
	s.mu.Lock()
	pools := make([]*Pool, 0, len(s.pools))
	for _, p := range s.pools {
		pools = append(pools, p)
	}
	s.mu.Unlock()
	errs := make([]error, len(pools))
	var wg sync.WaitGroup
	for i, p := range pools {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.recycle(ctx); err != nil && !errors.Is(err, ErrPoolClosed) {
				errs[i] = err
			}
		}()
	}
	wg.Wait()
	// Interpreters the new configuration names in a PythonImport start now.
	if err := s.Warm(); err != nil && !errors.Is(err, ErrPoolClosed) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Stats reports live and idle workers per interpreter.
func (s *Server) Stats() map[string][2]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][2]int, len(s.pools))
	for name, p := range s.pools {
		live, idle := p.stats()
		out[name] = [2]int{live, idle}
	}
	return out
}

// Call is a worker's request to the daemon in the middle of a request
// (a CALL frame): sessions, the module graph and page lookups use it.
type Call struct {
	Method      string
	Args        []KV
	Interpreter string        // the worker's interpreter name
	Request     *fcgi.Request // the request the worker is serving
	RequestID   uint64        // the daemon's number for that request, unique while it runs
	Deadline    time.Time     // when the request times out
}

// CallFunc answers a Call. Its results go back in a REPLY; an error becomes
// a REPLY with status 1 whose message the worker raises as CallError.
// It runs in the request's goroutine while the worker waits.
type CallFunc func(c *Call) ([]KV, error)

// HandleCall registers fn for CALLs of method. Register before serving.
func (s *Server) HandleCall(method string, fn CallFunc) {
	s.callsMu.Lock()
	defer s.callsMu.Unlock()
	s.calls[method] = fn
}

// answerCall runs the CallFunc of a CALL and encodes its REPLY.
func (s *Server) answerCall(b []byte, c *Call) []byte {
	s.callsMu.RLock()
	fn := s.calls[c.Method]
	s.callsMu.RUnlock()
	if fn == nil {
		return AppendReply(b, &ReplyFrame{Status: 1, Results: []KV{{"error", "unknown method " + strconv.Quote(c.Method)}}})
	}
	res, err := fn(c)
	if err != nil {
		return AppendReply(b, &ReplyFrame{Status: 1, Results: []KV{{"error", err.Error()}}})
	}
	return AppendReply(b, &ReplyFrame{Results: res})
}

// wireFor returns the encoded configuration of m for a connection to base,
// encoding it on first use.
func (s *Server) wireFor(cfg *config.Config, m *config.Merged, base *config.VirtualHost) (*wireConfig, error) {
	key := wireKey{m, base}
	s.wireMu.Lock()
	defer s.wireMu.Unlock()
	if wc := s.wire[key]; wc != nil {
		return wc, nil
	}
	b, err := json.Marshal(wireConfigOf(cfg, m, base))
	if err != nil {
		return nil, fmt.Errorf("encode configuration: %w", err)
	}
	// config caches Merged values, so this map stays small; the bound is a
	// guard against a configuration that does not.
	if len(s.wire) >= 8192 {
		s.wire = make(map[wireKey]*wireConfig)
	}
	wc := &wireConfig{id: s.nextCfgID.Add(1), json: b}
	s.wire[key] = wc
	return wc, nil
}

// ServeFCGI serves one FastCGI request.
func (s *Server) ServeFCGI(w *fcgi.Response, r *fcgi.Request) uint32 {
	x := exchangePool.Get().(*exchange)
	x.s, x.w, x.r, x.id, x.start = s, w, r, s.nextReqID.Add(1), time.Now()
	x.serve()
	x.releaseSessions() // however the request ended
	x.reset()
	exchangePool.Put(x)
	return 0
}

// exchangePool recycles exchanges and their buffers between requests.
var exchangePool = sync.Pool{New: func() any { return new(exchange) }}

// exchange is one request in flight. Exchanges are pooled: reset clears
// everything but the buffers.
type exchange struct {
	s     *Server
	w     *fcgi.Response
	r     *fcgi.Request
	id    uint64
	start time.Time
	lg    *slog.Logger // built on first use by log

	m        *config.Merged
	base     *config.VirtualHost // the server the connection came to (conn.base_server)
	meta     []KV
	filename string      // req.filename as sent ("" = None)
	interp   string      // the interpreter the request runs in
	done     string      // MPGATE_PHASES: the phases authorizers ran (responder)
	authz    *authorizer // an AUTHORIZER request; nil for a responder

	wk          *worker
	headersSent bool
	refused     bool // the handler's response head was invalid: a 500 went out instead
	bodyEOF     bool
	bodyRead    int64
	bodyBuf     []byte
	frame       []byte
	head        []byte
	status      int
	stdinTimer  *time.Timer
	deadline    time.Time // the request's deadline, set when it has a worker
	sessions    bool      // the worker made session.* CALLs: locks may be held
}

// reset makes x ready for another request, keeping its buffers.
func (x *exchange) reset() {
	if x.stdinTimer != nil {
		x.stdinTimer.Stop()
	}
	*x = exchange{meta: x.meta[:0], bodyBuf: x.bodyBuf, frame: x.frame[:0], head: x.head[:0]}
}

// log returns the request's logger; requests that log nothing never build
// one.
func (x *exchange) log() *slog.Logger {
	if x.lg == nil {
		x.lg = x.s.log.With("req", x.id)
	}
	return x.lg
}

func (x *exchange) serve() {
	r := x.r
	if r.Role == fcgi.RoleAuthorizer {
		x.serveAuthorizer()
		return
	}
	if r.Role != fcgi.RoleResponder {
		x.log().Error("FastCGI role not served", "role", r.Role.String())
		x.errorResponse(500, nil)
		return
	}
	cfg := x.s.cfg.Load()
	q := queryOf(r)
	x.m = cfg.Lookup(q)
	if x.m.Err != nil {
		// A broken or unreadable .htaccess on the way, as Apache's
		// ap_parse_htaccess refuses it.
		x.log().Error(x.m.Err.Error())
		x.errorResponse(x.m.Status, nil)
		return
	}
	x.base = cfg.BaseServer(q)
	x.done = phasesDone(r)
	x.interp = x.m.Interpreter
	python := x.m.Handler == "mod_python" || x.m.Handler == "python-program"
	// Phases besides the content handler (mod_python.md §1.6) need Python
	// even for a file Apache's default handler would serve; they run in the
	// content handler's interpreter, or in the first one's when there is no
	// content handler list.
	if interp, ok := phaseWork(x.m, x.done); ok {
		if !python || !hasContentHandlers(x.m) {
			x.interp = interp
		}
		python = true
	}
	x.meta = x.buildMeta(q)

	if !python {
		// No Python content handler for this file and no other phase to
		// run: Apache's default handler would serve it.
		x.serveStatic(x.filename, nil, 0)
		return
	}
	x.runWorker(cfg)
}

// runWorker runs the request on a worker of x.interp and relays its
// response.
func (x *exchange) runWorker(cfg *config.Config) {
	wc, err := x.s.wireFor(cfg, x.m, x.base)
	if err != nil {
		x.log().Error("request failed", "err", err)
		x.errorResponse(500, nil)
		return
	}
	p, err := x.s.pool(x.interp)
	if err != nil {
		x.log().Error("request failed", "err", err)
		x.errorResponse(503, nil)
		return
	}
	for attempt := 0; ; attempt++ {
		wk, err := p.get(x.s.opts.QueueTimeout)
		if err != nil {
			x.log().Error("no worker for request", "interpreter", x.interp, "err", err)
			x.errorResponse(503, nil)
			return
		}
		x.wk = wk
		healthy, err := x.run(wc)
		wk.served++
		p.put(wk, healthy)
		if err == nil {
			return
		}
		// The worker had died while idle: the REQUEST could not even be
		// written, so nothing of the request ran or was consumed. Another
		// worker gets it, once.
		if attempt == 0 && errors.Is(err, errNotDelivered) {
			x.log().Warn("idle worker had died; retrying the request on another", "pid", wk.pid)
			continue
		}
		x.fail(err)
		return
	}
}

// errNotDelivered wraps the failure to write a REQUEST frame: the worker
// never received the request.
var errNotDelivered = errors.New("request not delivered to the worker")

// run sends the request to the worker and relays frames until END. It
// reports whether the worker can serve another request and, when the
// exchange broke, why (the caller fails the request or retries it).
func (x *exchange) run(wc *wireConfig) (healthy bool, err error) {
	wk := x.wk
	// RequestTimeout runs from the moment the request has a worker.
	x.deadline = time.Now().Add(x.s.opts.RequestTimeout)
	wk.conn.SetDeadline(x.deadline)
	defer wk.conn.SetDeadline(time.Time{})

	var cfgJSON []byte
	if !wk.configs.use(wc.id) {
		cfgJSON = wc.json
	}
	x.frame = appendRequestFCGI(x.frame[:0], wc.id, cfgJSON, x.r.Params, x.meta)
	// Modules the worker must drop before this request go in the same write.
	var prefix []byte
	if inv, ok := x.s.modules.Take(wk.owner); ok {
		prefix = appendInvalidation(nil, inv)
	}
	if err := wk.sendAfter(prefix, FrameRequest, uint32(x.id), x.frame); err != nil {
		wk.configs.forget(wc.id)
		wk.kill()
		return false, fmt.Errorf("%w: %w", errNotDelivered, err)
	}

	for got := 0; ; got++ {
		f, err := wk.read()
		if err != nil {
			// A reset before any frame came back means the worker closed
			// with our REQUEST unread in its socket: it died before it saw
			// the request, which can run elsewhere.
			if got == 0 && x.bodyRead == 0 && errors.Is(err, syscall.ECONNRESET) {
				return false, fmt.Errorf("%w: %w", errNotDelivered, err)
			}
			return false, err
		}
		if f.ID != uint32(x.id) && f.Type != FrameLog {
			return false, &ProtoError{Type: f.Type, Err: fmt.Sprintf("frame for request %d during request %d", f.ID, x.id)}
		}
		switch f.Type {
		case FrameRead:
			n, err := ParseRead(f.Payload)
			if err != nil {
				return false, err
			}
			if err := x.sendBody(n); err != nil {
				return false, err
			}
		case FrameHeaders:
			h, err := ParseHeaders(f.Payload)
			if err != nil {
				return false, err
			}
			if x.headersSent || x.refused {
				return false, &ProtoError{Type: FrameHeaders, Err: "second HEADERS"}
			}
			if x.authz != nil && x.authz.head(x, h) {
				x.refused = true
				continue
			}
			if err := checkHeaders(h.Headers); err != nil {
				// The handler's fault, not the worker's: answer 500, drop
				// what it writes, keep the worker.
				x.log().Error("handler sent an invalid response header; answering 500", "err", err, "uri", x.r.Param("REQUEST_URI"))
				x.stderr("mpgate: " + err.Error())
				x.errorResponse(500, nil)
				x.refused = true
				continue
			}
			if err := x.writeHead(h.Status, h.Reason, h.Headers); err != nil {
				return false, err
			}
		case FrameWrite:
			if x.refused {
				continue
			}
			if !x.headersSent {
				return false, &ProtoError{Type: FrameWrite, Err: "WRITE before HEADERS"}
			}
			x.w.Write(f.Payload)
		case FrameFlush:
			// When more frames already arrived (typically the END of a
			// small response), the flush waits for them: the response then
			// reaches Apache in one write with END_REQUEST.
			if !x.refused && wk.br.Buffered() == 0 {
				x.w.Flush()
			}
		case FrameLog:
			l, err := ParseLog(f.Payload)
			if err != nil {
				return false, err
			}
			x.logLine(l, f.ID == 0)
		case FrameCall:
			c, err := ParseCall(f.Payload)
			if err != nil {
				return false, err
			}
			if strings.HasPrefix(c.Method, "session.") {
				x.sessions = true
			}
			if c.Method == callRedirect {
				x.frame = x.redirect(x.frame[:0], c.Args)
			} else {
				call := &Call{Method: c.Method, Args: c.Args, Interpreter: wk.interp, Request: x.r, RequestID: x.id, Deadline: x.deadline}
				x.frame = x.s.answerCall(x.frame[:0], call)
			}
			if err := wk.send(FrameReply, uint32(x.id), x.frame); err != nil {
				return false, err
			}
		case FrameEnd:
			e, err := ParseEnd(f.Payload)
			if err != nil {
				return false, err
			}
			x.reportModules(e.Info)
			// The worker has run the request's cleanups: its session
			// locks go now, before the response is written out, as
			// mod_python releases them in a cleanup.
			x.releaseSessions()
			if !x.refused {
				x.finish(e)
			}
			return true, nil
		default:
			return false, &ProtoError{Type: f.Type, Err: "unexpected frame from worker"}
		}
	}
}

// sendBody answers a READ with at most n bytes of the request body.
func (x *exchange) sendBody(n int) error {
	if x.bodyEOF {
		return x.wk.send(FrameBody, uint32(x.id), nil)
	}
	if x.stdinTimer == nil {
		// A client that stops sending its body would otherwise hold the
		// worker until Apache's own timeout: end the body at the request
		// deadline.
		r := x.r
		x.stdinTimer = time.AfterFunc(time.Until(x.deadline), func() { r.CloseStdin(errBodyTimeout) })
	}
	n = min(n, bodyChunk)
	if cap(x.bodyBuf) < n {
		x.bodyBuf = make([]byte, bodyChunk)
	}
	buf := x.bodyBuf[:n]
	k, err := io.ReadAtLeast(x.r.Stdin, buf, 1)
	if err == io.EOF || (err == nil && k == 0) {
		x.bodyEOF = true
		return x.wk.send(FrameBody, uint32(x.id), nil)
	}
	if err != nil && err != io.ErrUnexpectedEOF {
		return fmt.Errorf("read request body: %w", err)
	}
	x.bodyRead += int64(k)
	if lim := x.s.opts.MaxBodyBytes; lim > 0 && x.bodyRead > lim {
		return errBodyTooLarge
	}
	return x.wk.send(FrameBody, uint32(x.id), buf[:k])
}

// bodyChunk is the largest BODY frame the daemon sends.
const bodyChunk = 64 << 10

var errBodyTooLarge = errors.New("request body exceeds the configured limit")

// errBodyTimeout ends a request body that did not arrive within the request
// timeout; it is a timeout for isTimeout.
var errBodyTimeout error = bodyTimeoutError{}

type bodyTimeoutError struct{}

func (bodyTimeoutError) Error() string { return "request body not received within the request timeout" }
func (bodyTimeoutError) Timeout() bool { return true }

// fail ends a request whose worker exchange broke: the worker is killed (it
// may be stuck or out of step) and the client gets a 500 if nothing was sent
// yet; otherwise the response is cut short, which mod_fcgid hides from the
// client, so it is logged.
func (x *exchange) fail(err error) {
	status := 500
	switch {
	case errors.Is(err, errBodyTooLarge):
		status = 413
		x.log().Error("request body too large", "limit", x.s.opts.MaxBodyBytes, "uri", x.r.Param("REQUEST_URI"))
	case isTimeout(err):
		x.log().Error("request timed out; worker killed", "timeout", x.s.opts.RequestTimeout, "uri", x.r.Param("REQUEST_URI"), "pid", x.wk.pid)
		x.stderr(fmt.Sprintf("mpgate: request timed out after %v; worker %d killed", x.s.opts.RequestTimeout, x.wk.pid))
	case errors.Is(err, ErrWorkerGone):
		x.wk.kill()
		x.log().Error("worker died during request", "uri", x.r.Param("REQUEST_URI"), "pid", x.wk.pid, "exit", x.wk.exitDescription())
		x.stderr(fmt.Sprintf("mpgate: worker %d died during the request (%s)", x.wk.pid, x.wk.exitDescription()))
	default:
		x.log().Error("worker exchange failed; worker killed", "err", err, "uri", x.r.Param("REQUEST_URI"), "pid", x.wk.pid)
		x.stderr("mpgate: " + err.Error())
	}
	x.wk.kill()
	if x.headersSent {
		x.log().Error("response cut short", "status", x.status, "sent", x.w.Written())
	} else {
		x.errorResponse(status, nil)
	}
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// finish completes the response after END (proto.go, END semantics).
func (x *exchange) finish(e *EndFrame) {
	if x.authz != nil {
		x.finishAuthorizer(e)
		return
	}
	switch {
	case e.Result == ResultOK || e.Result == ResultDone:
		if !x.headersSent {
			x.writeHead(200, "", nil)
		}
	case e.Result == ResultDeclined:
		if !x.headersSent {
			n, _ := strconv.Atoi(Get(e.Info, "err_headers"))
			x.serveStatic(Get(e.Info, "filename"), e.Headers, n)
		} else {
			// Apache's default handler still runs, after what the handler
			// wrote: the file's bytes, or its error text.
			appendFile(x, Get(e.Info, "filename"))
		}
	case e.Result >= 100 && e.Result <= 599:
		if x.headersSent {
			// Apache appends its error text to what the handler wrote.
			x.w.Write([]byte(errorBody(e.Result, x.errorRequest(e.Headers))))
		} else {
			x.errorResponse(e.Result, e.Headers)
		}
	default:
		x.log().Error("handler returned an invalid result", "result", e.Result)
		if !x.headersSent {
			x.errorResponse(500, nil)
		}
	}
}

// errorResponse sends the error document for status, with the headers
// that survive an error (err_headers_out): the site's ErrorDocument if one
// applies, else Apache's own.
func (x *exchange) errorResponse(status int, headers []KV) {
	hs := make([]KV, 0, len(headers)+2)
	for _, h := range headers {
		if !strings.EqualFold(h.Key, "Content-Type") && !strings.EqualFold(h.Key, "Content-Length") {
			hs = append(hs, h)
		}
	}
	var doc string
	if x.m != nil {
		doc = x.m.ErrorDocuments[status]
	}
	body := ""
	switch kind, arg := classifyErrorDocument(status, doc); kind {
	case errDocMessage:
		body = arg
	case errDocRemote:
		// Apache redirects the client to a full URL (http_request.c
		// ap_die: a REMOTE_PATH ErrorDocument becomes a 302).
		status = 302
		hs = append(hs, KV{"Location", arg})
		body = errorBody(302, &errorRequest{Location: arg, Signature: x.r.Param("SERVER_SIGNATURE")})
	case errDocLocal:
		if b, ctype, ok := x.localErrorDocument(arg); ok {
			hs = append(hs, KV{"Content-Length", strconv.Itoa(len(b))})
			if ctype != "" {
				hs = append(hs, KV{"Content-Type", ctype})
			}
			if x.writeHead(status, "", hs) == nil && x.r.Param("REQUEST_METHOD") != "HEAD" {
				x.w.Write(b)
			}
			return
		}
		x.log().Warn("ErrorDocument not served: mpgate serves local error documents only as files under DocumentRoot", "status", status, "document", arg)
		body = errorBody(status, x.errorRequest(headers))
	default:
		body = errorBody(status, x.errorRequest(headers))
	}
	hs = append(hs, KV{"Content-Length", strconv.Itoa(len(body))}, KV{"Content-Type", "text/html; charset=iso-8859-1"})
	if err := x.writeHead(status, "", hs); err != nil {
		x.log().Error("write error response", "err", err)
		return
	}
	if x.r.Param("REQUEST_METHOD") != "HEAD" {
		io.WriteString(x.w, body)
	}
}

// Kinds of ErrorDocument argument (core.c set_error_document).
const (
	errDocDefault = iota
	errDocMessage // a text sent as the body
	errDocLocal   // a local URL path, internally redirected to
	errDocRemote  // a full URL the client is redirected to
)

// classifyErrorDocument applies core.c's heuristic to an ErrorDocument
// argument: a text with a space is a message, "/..." a local path, a URL a
// remote path (ignored for 401), anything else a message; "default" means
// Apache's own document.
func classifyErrorDocument(status int, doc string) (int, string) {
	switch {
	case doc == "" || doc == "default":
		return errDocDefault, ""
	case strings.ContainsRune(doc, ' '):
		return errDocMessage, doc
	case doc[0] == '/':
		return errDocLocal, doc
	case strings.Contains(doc, "://"):
		if status == 401 {
			return errDocDefault, ""
		}
		return errDocRemote, doc
	}
	return errDocMessage, doc
}

// localErrorDocument reads a local ErrorDocument path as a file under the
// DocumentRoot. Apache would run a whole internal request for it; a file is
// what nearly every site points at.
func (x *exchange) localErrorDocument(uri string) ([]byte, string, bool) {
	root := firstNonEmpty(x.r.Param("DOCUMENT_ROOT"), x.m.VHost.DocumentRoot)
	path, _, _ := strings.Cut(uri, "?")
	if root == "" || strings.Contains(path, "/../") || strings.HasSuffix(path, "/..") {
		return nil, "", false
	}
	name := filepath.Join(root, filepath.FromSlash(path))
	st, err := os.Stat(name)
	if err != nil || !st.Mode().IsRegular() || st.Size() > 1<<20 {
		return nil, "", false
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, "", false
	}
	return b, mimeType(name), true
}

func (x *exchange) errorRequest(headers []KV) *errorRequest {
	er := &errorRequest{
		Method:      x.r.Param("REQUEST_METHOD"),
		ServerAdmin: x.r.Param("SERVER_ADMIN"),
		Signature:   x.r.Param("SERVER_SIGNATURE"),
		Expect:      x.r.Param("HTTP_EXPECT"),
	}
	for _, h := range headers {
		if strings.EqualFold(h.Key, "Location") {
			er.Location = h.Value
		}
	}
	return er
}

// writeHead writes the CGI response head. Only the status number is sent
// unless the handler set a status line: Apache then uses its own reason
// phrase, as it does for mod_python.
func (x *exchange) writeHead(status int, reason string, headers []KV) error {
	b := append(x.head[:0], "Status: "...)
	b = strconv.AppendInt(b, int64(status), 10)
	if reason == "" && x.authz != nil {
		// Apache's authorizer modules pass the status line on as sent:
		// without a reason phrase the client would read "Unknown Reason".
		reason = http.StatusText(status)
	}
	if reason != "" {
		b = append(b, ' ')
		b = append(b, reason...)
	}
	b = append(b, "\r\n"...)
	for _, h := range headers {
		if err := checkHeader(h); err != nil {
			return err
		}
		b = append(b, h.Key...)
		b = append(b, ": "...)
		b = append(b, h.Value...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	x.head = b
	x.headersSent = true
	x.status = status
	_, err := x.w.Write(b)
	return err
}

// checkHeaders refuses response headers that would split the response.
func checkHeaders(hs []KV) error {
	for _, h := range hs {
		if err := checkHeader(h); err != nil {
			return err
		}
	}
	return nil
}

// checkHeader refuses a header that would split the response.
func checkHeader(h KV) error {
	if h.Key == "" || strings.ContainsAny(h.Key, " \t\r\n:") {
		return fmt.Errorf("invalid response header name %q", h.Key)
	}
	if strings.ContainsAny(h.Value, "\r\n") {
		return fmt.Errorf("response header %s: value contains a line break", h.Key)
	}
	return nil
}

// logLine sends one handler log line to Apache's error log (a FastCGI
// STDERR record) and to the daemon's log at debug level. A worker-level line
// (not about the request) goes to the daemon's log.
func (x *exchange) logLine(l LogFrame, workerLevel bool) {
	if workerLevel {
		x.wk.logFrame(l)
		return
	}
	x.stderr(l.Message)
	x.log().Debug("handler log", "level", l.Level, "msg", l.Message)
}

func (x *exchange) stderr(line string) {
	io.WriteString(x.w.Stderr(), line)
}

// queryOf builds the configuration query from Apache's parameters.
func queryOf(r *fcgi.Request) config.Query {
	port, _ := strconv.Atoi(r.Param("SERVER_PORT"))
	return config.Query{
		VHost:     r.Param("MPGATE_VHOST"),
		Host:      hostOnly(firstNonEmpty(r.Param("HTTP_HOST"), r.Param("SERVER_NAME"))),
		LocalAddr: r.Param("SERVER_ADDR"),
		LocalPort: port,
		URI:       r.Param("SCRIPT_NAME") + r.Param("PATH_INFO"),
		Filename:  scriptFilename(r.Param("SCRIPT_FILENAME")),
		Params:    r, // for <If> conditions
	}
}

// scriptFilename returns Apache's r->filename from SCRIPT_FILENAME, which
// mod_proxy_fcgi prefixes with "proxy:fcgi://host" unless
// ProxyFCGIBackendType GENERIC (fastcgi-apache.md §2.1).
func scriptFilename(s string) string {
	if rest, ok := strings.CutPrefix(s, "proxy:fcgi://"); ok {
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			s = rest[i:]
		} else {
			s = ""
		}
	}
	for strings.HasPrefix(s, "//") {
		s = s[1:]
	}
	return s
}

func hostOnly(h string) string {
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i >= 0 {
			return h[:i+1]
		}
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		return h[:i]
	}
	return h
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// appendRequestFCGI encodes a REQUEST payload straight from the FastCGI
// params (AppendRequest without converting them to KVs first).
func appendRequestFCGI(b []byte, cfgID uint32, cfgJSON []byte, ps []fcgi.Param, meta []KV) []byte {
	b = binary.BigEndian.AppendUint32(b, cfgID)
	b = appendBytes(b, cfgJSON)
	b = binary.BigEndian.AppendUint32(b, uint32(len(ps)))
	for _, p := range ps {
		b = appendStr(b, p.Name)
		b = appendStr(b, p.Value)
	}
	return appendKV(b, meta)
}

// TransportConn marks a connection that reached the daemon other than on
// its own socket: mod_fcgid connections handed over by relays ("fcgid").
// req.transport and logs show the name.
type TransportConn struct {
	net.Conn
	Name string
}

// transportOf names how the request reached the daemon.
func transportOf(r *fcgi.Request) string {
	if tc, ok := r.Conn.(TransportConn); ok {
		return tc.Name
	}
	return firstNonEmpty(r.Param("MPGATE_TRANSPORT"), "proxy")
}

// buildMeta computes the request values mod_python would show that are not
// plain CGI parameters (pyrt reads them; keys are listed in proto.go's
// REQUEST description).
func (x *exchange) buildMeta(q config.Query) []KV {
	r := x.r
	meta := x.meta[:0]
	add := func(k, v string) { meta = append(meta, KV{k, v}) }
	uri := q.URI
	if uri == "" {
		uri, _, _ = strings.Cut(r.Param("REQUEST_URI"), "?")
	}
	add("uri", uri)
	if !x.m.IsLocation {
		// mod_python.md §1.7: <Location> handlers skip map-to-storage, so
		// filename and path_info stay None there.
		x.filename = q.Filename
		if q.Filename != "" {
			if ct := mimeType(q.Filename); ct != "" {
				add("content_type", ct)
			}
			add("filename", q.Filename)
			add("canonical_filename", q.Filename)
			add("path_info", r.Param("PATH_INFO"))
		}
	} else {
		x.filename = q.Filename
	}
	unparsed := r.Param("REQUEST_URI")
	add("unparsed_uri", unparsed)
	if _, qs, ok := strings.Cut(unparsed, "?"); ok {
		add("args", qs)
	} else if qs := r.Param("QUERY_STRING"); qs != "" {
		add("args", qs)
	}
	add("hostname", q.Host)
	add("method", r.Param("REQUEST_METHOD"))
	add("protocol", r.Param("SERVER_PROTOCOL"))
	add("the_request", r.Param("REQUEST_METHOD")+" "+unparsed+" "+r.Param("SERVER_PROTOCOL"))
	add("request_time", strconv.FormatFloat(float64(x.start.UnixMicro())/1e6, 'f', 6, 64))
	add("interpreter", x.interp)
	add("transport", transportOf(r))
	add("role", r.Role.String())
	if v := r.Param("FCGI_APACHE_ROLE"); v != "" {
		add("apache_role", v)
	}
	add("document_root", firstNonEmpty(r.Param("DOCUMENT_ROOT"), x.m.VHost.DocumentRoot))
	add("server_port", r.Param("SERVER_PORT"))
	add("local_ip", r.Param("SERVER_ADDR"))
	add("local_port", r.Param("SERVER_PORT"))
	add("remote_ip", r.Param("REMOTE_ADDR"))
	add("remote_port", r.Param("REMOTE_PORT"))
	if strings.EqualFold(r.Param("HTTPS"), "on") {
		add("https", "1")
	}
	if v, ok := r.LookupParam("MPGATE_USER"); ok && x.authz == nil && phaseIn(x.done, "PythonAuthenHandler") {
		// The user PythonAuthenHandler set in the authorizer (mod_fcgid's
		// REMOTE_USER is always the Basic user name).
		add("user", v)
	} else if v, ok := r.LookupParam("REMOTE_USER"); ok {
		add("user", v)
	}
	if x.done != "" && x.authz == nil {
		add("phases_done", x.done)
	}
	if x.authz != nil {
		add("authorizer", strings.Join(x.authz.phases, ","))
	}
	if v, ok := r.LookupParam("AUTH_TYPE"); ok {
		add("ap_auth_type", v)
	}
	add("request_id", strconv.FormatUint(x.id, 10))
	return meta
}

// wireConfigOf is the JSON shape pyrt expects (documented in
// pyrt/mpgate/request.py) for requests under m arriving on a connection to
// base.
func wireConfigOf(cfg *config.Config, m *config.Merged, base *config.VirtualHost) map[string]any {
	handlers := make(map[string][]map[string]any, len(m.Handlers))
	lists := make(map[string][]config.Handler, len(m.Handlers)+len(earlyPhases))
	for key, hs := range m.Handlers {
		lists[key] = hs
	}
	// The phases before URI translation run with the virtual host's lists
	// (mod_python.md §1.6).
	for _, phase := range earlyPhases {
		delete(lists, phase)
		if hs, _ := m.Phase(phase); len(hs) > 0 {
			lists[phase] = hs
		}
	}
	for key, hs := range lists {
		list := make([]map[string]any, len(hs))
		for i, h := range hs {
			var dir any
			if h.Directory != "" {
				dir = h.Directory
			}
			list[i] = map[string]any{"handler": h.Handler, "directory": dir, "is_location": h.IsLocation, "silent": h.Silent}
		}
		handlers[key] = list
	}
	nullable := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	return map[string]any{
		"handlers":        handlers,
		"directives":      kvPairs(m.Directives),
		"options":         kvPairs(m.Options),
		"session_options": kvPairs(m.SessionOptions),
		"handler":         nullable(m.Handler),
		"addhandler_exts": strings.Join(m.AddHandlerExts, " "),
		"pythonpath":      nullable(m.PythonPath),
		"debug":           m.Debug,
		"autoreload":      m.AutoReload,
		"is_location":     m.IsLocation,
		"config_dir":      nullable(m.ConfigDir),
		"auth_type":       nullable(m.AuthType),
		"auth_required":   m.AuthRequired,
		"auth_name":       nullable(m.AuthName),
		"log_level":       m.LogLevel,
		"server":          serverJSON(cfg, m.VHost),
		"main_server":     serverJSON(cfg, cfg.MainServer()),
		"base_server":     serverJSON(cfg, base),
	}
}

func kvPairs(kvs []config.KV) [][2]string {
	out := make([][2]string, len(kvs))
	for i, kv := range kvs {
		out[i] = [2]string{kv.Key, kv.Value}
	}
	return out
}

// serverJSON describes a server (virtual host) of cfg as mod_python's server
// object shows it (mod_python.md §3.3), from the configuration: Apache does
// not pass these values over FastCGI. "index" is the server's place in
// worker.init's list of servers, "next" that of server_rec.next (null for
// the last), "log_level" the LogLevel pyrt filters log_error lines with.
func serverJSON(cfg *config.Config, v *config.VirtualHost) map[string]any {
	if v == nil {
		return nil
	}
	var next any
	if n := cfg.NextServer(v); n != nil {
		next = n.Index()
	}
	// server_rec's error_fname and path are NULL (None) when unset.
	var errorLog, path any
	if v.ErrorLog != "" {
		errorLog = v.ErrorLog
	}
	if v.ServerPath != "" {
		path = v.ServerPath
	}
	keepAlive := 0
	if v.KeepAlive {
		keepAlive = 1
	}
	var names, wild []string
	for _, a := range v.ServerAliases {
		if strings.ContainsAny(a, "*?") {
			wild = append(wild, a)
		} else {
			names = append(names, a)
		}
	}
	isVirtual := 0
	if v.IsVirtual {
		isVirtual = 1
	}
	return map[string]any{
		"server_hostname": v.ServerName, "server_admin": v.ServerAdmin,
		"defn_name": v.File, "defn_line_number": v.Line, "is_virtual": isVirtual,
		"names": nonNil(names), "wild_names": nonNil(wild), "port": v.Port,
		"timeout": v.Timeout.Seconds(), "keep_alive_timeout": v.KeepAliveTimeout.Seconds(),
		"keep_alive_max": v.MaxKeepAliveRequests, "keep_alive": keepAlive,
		"error_fname": errorLog, "loglevel": v.LogLevel, "log_level": v.LogLevel,
		"limit_req_line": v.LimitRequestLine, "limit_req_fieldsize": v.LimitRequestFieldSize,
		"limit_req_fields": v.LimitRequestFields, "path": path,
		"directives": kvPairs(v.Directives), "options": kvPairs(v.Options),
		"index": v.Index(), "next": next,
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// serveStatic answers as Apache's default handler would for filename.
func (x *exchange) serveStatic(filename string, extra []KV, errHeaders int) {
	if filename == "" {
		x.errorResponse(404, extra[:min(errHeaders, len(extra))])
		return
	}
	serveFile(x, filepath.Clean(filename), extra, errHeaders)
}
