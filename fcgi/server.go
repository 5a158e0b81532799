package fcgi

// This file is the server side as handlers see it: Request, Response's
// counterpart Handler, and Server, which accepts connections and shuts down
// like net/http.Server.

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultMaxParamsBytes is the limit on one request's PARAMS stream when
// Server.MaxParamsBytes is 0: 1 MiB, far above what Apache sends (a few KiB
// of CGI variables and request headers; httpd's own LimitRequestFieldSize
// is 8 KiB per header).
const DefaultMaxParamsBytes = 1 << 20

// DefaultMaxConns is the FCGI_MAX_CONNS and FCGI_MAX_REQS reported when
// Server.MaxConns is 0.
const DefaultMaxConns = 1024

// ErrServerClosed is returned by Serve after Shutdown or Close was called.
var ErrServerClosed = errors.New("fcgi: server closed")

// Request is one FastCGI request as the handler sees it. It must not be used
// after ServeFCGI returns.
type Request struct {
	ID       uint16 // always 1 from Apache
	Role     Role   // RoleResponder or RoleAuthorizer
	KeepConn bool   // FCGI_KEEP_CONN was set: the connection serves further requests

	// Params holds all name-value pairs of the PARAMS stream in arrival
	// order, duplicates kept (mod_python's req.subprocess_env).
	Params []Param

	// Stdin is the request body, streamed as STDIN records arrive: Read
	// blocks until the web server sends more and returns io.EOF at the empty
	// STDIN record, whatever CONTENT_LENGTH says or whether it is present
	// (fastcgi-apache.md §2.3). Never nil. For an AUTHORIZER, which gets no
	// STDIN at all (fastcgi-apache.md §1.8), a Read that would wait returns
	// io.EOF at once; STDIN records that did arrive before are delivered.
	// After ABORT_REQUEST Read returns ErrRequestAborted; if the connection
	// ends first, ErrConnClosed. Body the handler leaves unread is read and
	// discarded after it returns.
	Stdin io.Reader

	// Conn is the connection, for LocalAddr and RemoteAddr. Handlers must
	// not read, write or close it.
	Conn net.Conn
}

// Param returns the value of the first param named name, or "".
func (r *Request) Param(name string) string {
	v, _ := r.LookupParam(name)
	return v
}

// LookupParam returns the value of the first param named name and whether
// there was one.
func (r *Request) LookupParam(name string) (string, bool) {
	for _, p := range r.Params {
		if p.Name == name {
			return p.Value, true
		}
	}
	return "", false
}

// CloseStdin ends the request body early, as if the web server had ended it
// with err: a Read waiting for body and every later Read return err, unless
// the body had already ended. What the web server still sends is read and
// discarded (within the server's bound). Apache never aborts a request, so
// this is how a handler gives up on a client that stopped sending its body.
// It may be called from any goroutine, also after ServeFCGI returned (it
// then does nothing).
func (r *Request) CloseStdin(err error) {
	if b, ok := r.Stdin.(*body); ok {
		b.closeWrite(err)
	}
}

// Handler serves FastCGI requests. ServeFCGI runs in a goroutine of its own
// as soon as the PARAMS stream has ended, while the body may still be
// arriving. Its result is END_REQUEST's appStatus (the CGI exit status;
// Apache ignores it). When it returns, the response is sent and ended; a
// panic is logged with the request id and ends the request with appStatus 1
// and no output, or, if output was sent already, closes the connection.
type Handler interface {
	ServeFCGI(w *Response, r *Request) (appStatus uint32)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(w *Response, r *Request) uint32

// ServeFCGI calls f(w, r).
func (f HandlerFunc) ServeFCGI(w *Response, r *Request) uint32 { return f(w, r) }

// Server serves FastCGI connections from a web server: one request at a time
// per connection, RESPONDER and AUTHORIZER roles. Its exported fields must
// not change after the first Serve or ServeConn.
type Server struct {
	// Handler serves every request. It must not be nil.
	Handler Handler

	// Logger receives protocol errors, handler panics and refused
	// requests. Nil discards them.
	Logger *slog.Logger

	// MaxParamsBytes limits the size of one request's PARAMS stream, in
	// bytes; a larger one is a protocol error that closes the connection.
	// 0 means DefaultMaxParamsBytes.
	MaxParamsBytes int

	// MaxConns is the number of connections, and so of concurrent requests,
	// the server is sized for, reported as FCGI_MAX_CONNS and FCGI_MAX_REQS
	// to GET_VALUES. It is not enforced here: Apache never asks, and keeps
	// idle pooled connections open (fastcgi-apache.md §2.2), so limiting
	// concurrency is the handler's job. 0 means DefaultMaxConns.
	MaxConns int

	// IdleTimeout closes a connection on which no request has begun for
	// this long since the last one ended (or since it was accepted). 0 means
	// never. It also bounds reading the unread rest of a body after the
	// handler returned.
	IdleTimeout time.Duration

	// For tests.
	maxDrainBytes     int64  // 0 means defaultMaxDrainBytes
	testHookStdinWait func() // called when STDIN waits for the handler to read

	inShutdown atomic.Bool

	mu        sync.Mutex // guards listeners, conns, done, drained
	listeners map[*net.Listener]struct{}
	conns     map[*conn]struct{}
	done      chan struct{} // closed when Shutdown or Close begins
	drained   chan struct{} // closed when no connection is left after Shutdown or Close began
}

var discardLogger = slog.New(slog.DiscardHandler)

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return discardLogger
}

func (s *Server) maxConns() int {
	if s.MaxConns > 0 {
		return s.MaxConns
	}
	return DefaultMaxConns
}

func (s *Server) shuttingDown() bool { return s.inShutdown.Load() }

// Serve accepts connections on l and serves each in a goroutine of its own.
// It always closes l, and returns ErrServerClosed after Shutdown or Close,
// otherwise the error that stopped Accept. Temporary accept errors (out of
// file descriptors) are retried with a growing delay up to one second.
func (s *Server) Serve(l net.Listener) error {
	defer l.Close()
	if s.Handler == nil {
		return errors.New("fcgi: Server.Handler is nil")
	}
	if !s.trackListener(&l, true) {
		return ErrServerClosed
	}
	defer s.trackListener(&l, false)
	var delay time.Duration
	for {
		rwc, err := l.Accept()
		if err != nil {
			if s.shuttingDown() {
				return ErrServerClosed
			}
			if !isTemporary(err) {
				return err
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.logger().Warn("fcgi: accept failed, retrying", "err", err, "delay", delay)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-s.doneChan():
				t.Stop()
			}
			continue
		}
		delay = 0
		if c := s.track(rwc); c != nil {
			go s.serve(c)
		}
	}
}

// ServeConn serves one accepted connection and returns when it has ended and
// its last handler has returned. It closes rwc. The mod_fcgid relay and
// tests use it.
func (s *Server) ServeConn(rwc net.Conn) {
	if s.Handler == nil {
		s.logger().Error("fcgi: Server.Handler is nil")
		rwc.Close()
		return
	}
	if c := s.track(rwc); c != nil {
		s.serve(c)
	}
}

func (s *Server) serve(c *conn) {
	c.serve()
	s.untrack(c)
}

// Shutdown stops the server gracefully: it closes the listeners and the
// idle connections, lets requests in flight finish (their connections close
// when they end), and waits until every connection has ended and every
// handler returned. If ctx ends first it returns ctx.Err(); the requests go
// on, and Close ends them. Shutdown after Close waits for the handlers.
func (s *Server) Shutdown(ctx context.Context) error {
	conns, drained := s.beginShutdown()
	for _, c := range conns {
		c.closeIfIdle()
	}
	select {
	case <-drained:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close closes the listeners and every connection now. Handlers still
// running see ErrConnClosed on Stdin and errors on write; Close does not
// wait for them to return (Shutdown does). Close is idempotent.
func (s *Server) Close() error {
	conns, _ := s.beginShutdown()
	for _, c := range conns {
		c.close()
	}
	return nil
}

// beginShutdown marks the server as shutting down, closes its listeners, and
// returns its connections and the channel closed when none is left.
func (s *Server) beginShutdown() ([]*conn, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.inShutdown.Swap(true) {
		if s.done == nil {
			s.done = make(chan struct{})
		}
		close(s.done)
		s.drained = make(chan struct{})
		if len(s.conns) == 0 {
			close(s.drained)
		}
	}
	for l := range s.listeners {
		(*l).Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	return conns, s.drained
}

func (s *Server) doneChan() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil {
		s.done = make(chan struct{})
	}
	return s.done
}

// trackListener adds or removes l; adding fails once shutdown has begun.
func (s *Server) trackListener(l *net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.listeners, l)
		return true
	}
	if s.shuttingDown() {
		return false
	}
	if s.listeners == nil {
		s.listeners = make(map[*net.Listener]struct{})
	}
	s.listeners[l] = struct{}{}
	return true
}

// track registers a new connection, or closes it if shutdown has begun.
func (s *Server) track(rwc net.Conn) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shuttingDown() {
		rwc.Close()
		return nil
	}
	if s.conns == nil {
		s.conns = make(map[*conn]struct{})
	}
	c := newConn(s, rwc)
	s.conns[c] = struct{}{}
	return c
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if len(s.conns) == 0 && s.shuttingDown() {
		select {
		case <-s.drained:
		default:
			close(s.drained)
		}
	}
}

// isTemporary reports whether Accept may succeed if retried.
func isTemporary(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
