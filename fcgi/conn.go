package fcgi

// This file serves one FastCGI connection from the perspective of the
// application: it reads records, runs one request at a time, streams STDIN to
// the handler through a bounded pipe, and writes the handler's STDOUT, STDERR
// and END_REQUEST.
//
// Goroutines: the serve goroutine reads every record and owns the record
// buffer; each request's handler runs in a goroutine of its own, started at
// the end of PARAMS and waited for by the serve goroutine before it returns.

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"time"
)

// ErrRequestAborted is returned by Request.Stdin's Read, and by Response's
// Write, Flush and Stderr writes, after the web server sent ABORT_REQUEST
// for the request (spec §5.4). Apache never sends it (fastcgi-apache.md §0).
var ErrRequestAborted = errors.New("fcgi: request aborted by web server")

// ErrConnClosed is returned by Request.Stdin's Read when the connection to
// the web server broke, or was closed by Server.Close, before the end of the
// request body.
var ErrConnClosed = errors.New("fcgi: connection to web server closed")

var (
	errBodyAfterReturn = errors.New("fcgi: read of request body after ServeFCGI returned")
	errResponseDone    = errors.New("fcgi: write to response after ServeFCGI returned")
	errBodyClosed      = errors.New("fcgi: request body closed") // internal: body.write after the handler is done
	errIncomplete      = errors.New("fcgi: response incomplete after handler panic")
	errCloseConn       = errors.New("fcgi: closing connection") // internal: end serve without logging
)

const (
	// defaultMaxDrainBytes bounds the STDIN a connection reads and discards
	// after its handler returned without reading the whole body; past it the
	// connection is closed (net/http/fcgi's child.go uses the same 100 MiB).
	defaultMaxDrainBytes = 100 << 20
	// maxRefused bounds the request ids a connection remembers as refused
	// (FCGI_CANT_MPX_CONN, FCGI_UNKNOWN_ROLE) while discarding their records.
	maxRefused = 16
	// keepParamsCap is the largest PARAMS buffer a connection keeps for its
	// next request; a larger one is left to the garbage collector.
	keepParamsCap = 64 << 10
	// keepWbufCap is the same for the buffer of STDERR and management records.
	keepWbufCap = 4 << 10
	// panicAppStatus is the END_REQUEST appStatus of a request whose handler
	// panicked before sending any output.
	panicAppStatus = 1
)

// conn is one connection from the web server.
type conn struct {
	srv       *Server
	rwc       net.Conn
	log       *slog.Logger
	rr        RecordReader
	maxParams int           // Server.MaxParamsBytes or its default
	maxDrain  int64         // defaultMaxDrainBytes, smaller in tests
	idle      time.Duration // Server.IdleTimeout

	// Owned by the serve goroutine.
	params  []byte         // PARAMS content of the request being begun
	refused []uint16       // ids refused with END_REQUEST whose records are still discarded
	drained int64          // STDIN bytes discarded since BEGIN_REQUEST
	handler sync.WaitGroup // the running handler goroutine

	// mu guards cur, closing, and the finished, stdinEnded and ended fields
	// of every request. It is never held together with wmu.
	mu      sync.Mutex
	cur     *request // the request begun last; replaced only by the serve goroutine
	closing bool     // rwc is closed or about to be by us: read errors are expected

	// wmu guards wbuf, werr, the fields of every Response marked as such,
	// and every Write to rwc (one Write per batch of records).
	wmu  sync.Mutex
	wbuf []byte // records written outside a Response's buffer: STDERR, management replies
	werr error  // first write error; the connection is broken
}

// request is the connection's state of one request.
type request struct {
	id       uint16
	role     Role
	keepConn bool

	// Owned by the serve goroutine.
	started bool // end of PARAMS seen, handler running or done
	aborted bool // ABORT_REQUEST seen: its remaining records are discarded

	// Set up at the end of PARAMS; one allocation with the request.
	body body
	resp Response
	req  Request

	// Guarded by conn.mu.
	finished   bool // handler returned (or request ended before it started): STDIN is discarded, a new request may begin
	stdinEnded bool // empty STDIN or ABORT_REQUEST seen: no more STDIN will come
	ended      bool // END_REQUEST written: the connection is idle
}

func newConn(s *Server, rwc net.Conn) *conn {
	c := &conn{
		srv:       s,
		rwc:       rwc,
		log:       s.logger(),
		maxParams: s.MaxParamsBytes,
		maxDrain:  defaultMaxDrainBytes,
		idle:      s.IdleTimeout,
	}
	if c.maxParams <= 0 {
		c.maxParams = DefaultMaxParamsBytes
	}
	if s.maxDrainBytes > 0 {
		c.maxDrain = s.maxDrainBytes
	}
	c.rr.r = rwc
	return c
}

// serve reads and handles records until the connection ends, then waits
// for the running handler.
func (c *conn) serve() {
	defer c.teardown()
	if c.idle > 0 {
		c.rwc.SetReadDeadline(time.Now().Add(c.idle))
	}
	for {
		rec, err := c.rr.Read()
		if err == nil {
			err = c.handleRecord(rec)
		}
		if err != nil {
			c.logEnd(err)
			return
		}
	}
}

// logEnd logs why the connection ends, where that is news.
func (c *conn) logEnd(err error) {
	c.mu.Lock()
	closing, r := c.closing, c.cur
	busy := r != nil && !r.ended
	c.mu.Unlock()
	var pe *ProtocolError
	switch {
	case closing:
	case err == errCloseConn:
		c.log.Debug("fcgi: closing connection at the end of a request")
	case errors.As(err, &pe):
		c.log.Error("fcgi: closing connection", "err", err)
	case busy:
		c.log.Warn("fcgi: connection lost during request", "req", r.id, "err", err)
	case err == io.EOF:
		// The web server closed an idle connection.
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.log.Debug("fcgi: closing idle connection", "timeout", c.idle)
	default:
		c.log.Warn("fcgi: closing connection", "err", err)
	}
}

// teardown closes the connection, ends the running request's body, and
// waits for its handler.
func (c *conn) teardown() {
	c.mu.Lock()
	c.closing = true
	r := c.cur
	ending := r != nil && r.finished && !r.ended
	c.mu.Unlock()
	if ending {
		// The handler has returned and is writing END_REQUEST: let it
		// go out before the connection closes under it.
		c.handler.Wait()
	}
	c.rwc.Close()
	if r != nil && r.started {
		r.body.closeWrite(ErrConnClosed)
	}
	c.handler.Wait()
}

// close closes the connection now (Server.Close).
func (c *conn) close() {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	c.rwc.Close()
}

// closeIfIdle closes the connection if no request is in flight
// (Server.Shutdown). A request in flight closes it when it ends.
func (c *conn) closeIfIdle() {
	c.mu.Lock()
	idle := c.cur == nil || c.cur.ended
	if idle {
		c.closing = true
	}
	c.mu.Unlock()
	if idle {
		c.rwc.Close()
	}
}

func (c *conn) handleRecord(rec *Record) error {
	h := rec.Header
	if h.ID == 0 {
		return c.management(rec)
	}
	switch h.Type {
	case TypeBeginRequest:
		return c.begin(rec)
	case TypeParams, TypeStdin, TypeData, TypeAbortRequest:
		if c.isRefused(h.ID) {
			if h.Type == TypeAbortRequest || h.Type == TypeStdin && len(rec.Content) == 0 {
				c.unrefuse(h.ID)
			}
			return nil
		}
		r := c.cur
		if r == nil || r.id != h.ID {
			return protocolErrorf(h, "no request with this id is active")
		}
		switch h.Type {
		case TypeParams:
			return c.readParams(r, rec)
		case TypeStdin:
			return c.readStdin(r, rec)
		case TypeAbortRequest:
			return c.abort(r)
		}
		if r.aborted {
			return nil
		}
		return protocolErrorf(h, "data stream for a %s request", r.role)
	case TypeGetValues:
		return protocolErrorf(h, "management record with a request id")
	case TypeEndRequest, TypeStdout, TypeStderr, TypeGetValuesResult, TypeUnknownType:
		return protocolErrorf(h, "record type sent only by applications")
	}
	// A type from a later revision of the protocol: answer as for an
	// unknown management record (spec §4.2).
	c.log.Debug("fcgi: unknown record type", "type", uint8(h.Type), "req", h.ID)
	return c.writeUnknownType(h.Type)
}

// management handles a record with request id 0 (spec §4).
func (c *conn) management(rec *Record) error {
	switch rec.Type {
	case TypeGetValues:
		return c.getValues(rec)
	case TypeBeginRequest, TypeAbortRequest, TypeParams, TypeStdin, TypeData:
		return protocolErrorf(rec.Header, "application record with request id 0")
	}
	c.log.Debug("fcgi: unknown management record type", "type", uint8(rec.Type))
	return c.writeUnknownType(rec.Type)
}

// getValues answers GET_VALUES with the variables asked for that this
// server knows, each once (spec §4.1). Apache never asks.
func (c *conn) getValues(rec *Record) error {
	names, err := ParseParams(rec.Content, nil)
	if err != nil {
		var pe *ProtocolError
		if errors.As(err, &pe) {
			pe.Type = TypeGetValues
		}
		return err
	}
	var answers [3]Param
	n := 0
	for _, p := range names {
		var v string
		switch p.Name {
		case "FCGI_MAX_CONNS", "FCGI_MAX_REQS":
			// One request at a time per connection: as many requests
			// as connections.
			v = strconv.Itoa(c.srv.maxConns())
		case "FCGI_MPXS_CONNS":
			v = "0"
		default:
			continue // not understood: left out, spec §4.1
		}
		dup := false
		for _, a := range answers[:n] {
			dup = dup || a.Name == p.Name
		}
		if !dup {
			answers[n] = Param{Name: p.Name, Value: v}
			n++
		}
	}
	content := AppendParams(nil, answers[:n])
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf = AppendRecord(c.wbuf[:0], TypeGetValuesResult, 0, content)
	return c.writeLocked(c.wbuf)
}

// begin handles BEGIN_REQUEST.
func (c *conn) begin(rec *Record) error {
	h := rec.Header
	role, keepConn, err := ParseBeginRequest(rec.Content)
	if err != nil {
		err.(*ProtocolError).ID = h.ID
		return err
	}
	c.mu.Lock()
	prev, closing := c.cur, c.closing
	busy := prev != nil && !prev.finished
	c.mu.Unlock()
	switch {
	case closing:
		return errCloseConn
	case busy && prev.id == h.ID:
		return protocolErrorf(h, "request is already active")
	case busy:
		// One request at a time per connection: Apache never multiplexes
		// (fastcgi-apache.md §0, §2.2); refuse as spec §5.5 says.
		c.log.Warn("fcgi: refusing multiplexed request", "req", h.ID, "active", prev.id)
		if err := c.refuse(h); err != nil {
			return err
		}
		return c.writeEndRequest(h.ID, 0, StatusCantMpxConn)
	case prev != nil && !prev.keepConn:
		return protocolErrorf(h, "new request after a request without FCGI_KEEP_CONN")
	}
	c.unrefuse(h.ID)
	if role != RoleResponder && role != RoleAuthorizer {
		// FILTER is not offered: Apache has no module that sends it and
		// Request has no DATA stream.
		c.log.Warn("fcgi: refusing request with unsupported role", "req", h.ID, "role", role.String())
		if err := c.writeEndRequest(h.ID, 0, StatusUnknownRole); err != nil {
			return err
		}
		if !keepConn {
			return errCloseConn
		}
		return c.refuse(h)
	}
	r := &request{id: h.ID, role: role, keepConn: keepConn}
	c.mu.Lock()
	c.cur = r
	if c.idle > 0 {
		c.rwc.SetReadDeadline(time.Time{})
	}
	c.mu.Unlock()
	c.params = c.params[:0]
	c.drained = 0
	return nil
}

func (c *conn) readParams(r *request, rec *Record) error {
	switch {
	case r.aborted:
		return nil
	case r.started:
		return protocolErrorf(rec.Header, "params after the end of params")
	case len(rec.Content) == 0:
		return c.start(r)
	case len(c.params)+len(rec.Content) > c.maxParams:
		return protocolErrorf(rec.Header, "params exceed %d bytes (MaxParamsBytes)", c.maxParams)
	}
	c.params = append(c.params, rec.Content...)
	return nil
}

// start runs the handler at the end of PARAMS, whatever the role, so that
// it works while the body is still arriving and an AUTHORIZER, which gets no
// STDIN at all (fastcgi-apache.md §1.8), runs at all.
func (c *conn) start(r *request) error {
	ps, err := ParseParams(c.params, nil)
	if cap(c.params) > keepParamsCap {
		c.params = nil
	}
	if err != nil {
		err.(*ProtocolError).ID = r.id
		return err
	}
	r.started = true
	r.body.init(r.role == RoleAuthorizer, c.srv.testHookStdinWait)
	r.resp.c, r.resp.id = c, r.id
	r.resp.stderr.w = &r.resp
	r.req = Request{ID: r.id, Role: r.role, KeepConn: r.keepConn, Params: ps, Stdin: &r.body, Conn: c.rwc}
	c.handler.Add(1)
	go c.runHandler(r)
	return nil
}

func (c *conn) readStdin(r *request, rec *Record) error {
	if r.aborted {
		return nil
	}
	if !r.started {
		return protocolErrorf(rec.Header, "stdin before the end of params")
	}
	c.mu.Lock()
	ended := r.stdinEnded
	c.mu.Unlock()
	if ended {
		return protocolErrorf(rec.Header, "stdin after the end of stdin")
	}
	if len(rec.Content) == 0 {
		r.body.closeWrite(io.EOF)
		c.mu.Lock()
		r.stdinEnded = true
		closeNow := r.finished && !r.keepConn
		c.mu.Unlock()
		if closeNow {
			// The handler has returned (teardown lets its END_REQUEST
			// out first) and the body is read to its end, so closing sends
			// no RST over unread data (golang.org/issue/4183).
			return errCloseConn
		}
		return nil
	}
	n, err := r.body.write(rec.Content)
	if err == nil {
		return nil
	}
	// The handler returned (or, for an AUTHORIZER, saw io.EOF) without
	// reading this: discard it, within bounds.
	c.drained += int64(len(rec.Content) - n)
	if c.drained > c.maxDrain {
		return fmt.Errorf("fcgi: request %d: more than %d bytes of request body left unread", r.id, c.maxDrain)
	}
	return nil
}

// abort handles ABORT_REQUEST (spec §5.4): the handler's body reads and
// output fail with ErrRequestAborted, and END_REQUEST is written once, when
// the handler returns.
func (c *conn) abort(r *request) error {
	if r.aborted {
		return nil
	}
	r.aborted = true
	if !r.started {
		c.mu.Lock()
		r.finished, r.stdinEnded = true, true
		c.mu.Unlock()
		err := c.writeEndRequest(r.id, 0, StatusRequestComplete)
		c.mu.Lock()
		r.ended = true
		c.mu.Unlock()
		if err == nil && !r.keepConn {
			return errCloseConn
		}
		return err
	}
	c.mu.Lock()
	finished := r.finished
	r.stdinEnded = true
	closeNow := finished && !r.keepConn
	c.mu.Unlock()
	if closeNow {
		return errCloseConn
	}
	if !finished {
		r.resp.abort()
		r.body.closeWrite(ErrRequestAborted)
	}
	return nil
}

func (c *conn) isRefused(id uint16) bool {
	for _, x := range c.refused {
		if x == id {
			return true
		}
	}
	return false
}

func (c *conn) refuse(h Header) error {
	if c.isRefused(h.ID) {
		return nil
	}
	if len(c.refused) >= maxRefused {
		return protocolErrorf(h, "more than %d refused requests outstanding", maxRefused)
	}
	c.refused = append(c.refused, h.ID)
	return nil
}

func (c *conn) unrefuse(id uint16) {
	for i, x := range c.refused {
		if x == id {
			c.refused = append(c.refused[:i], c.refused[i+1:]...)
			return
		}
	}
}

func (c *conn) runHandler(r *request) {
	defer c.handler.Done()
	appStatus, panicked := c.callHandler(r)
	c.finish(r, appStatus, panicked)
}

// callHandler runs the handler, recovering a panic (STYLE.md §3: recover at
// the top of the request goroutine, log with the request id).
func (c *conn) callHandler(r *request) (appStatus uint32, panicked bool) {
	defer func() {
		if p := recover(); p != nil {
			panicked = true
			c.log.Error("fcgi: handler panicked", "req", r.id, "panic", p, "stack", string(debug.Stack()))
		}
	}()
	return c.srv.Handler.ServeFCGI(&r.resp, &r.req), false
}

// finish ends a request after its handler returned.
func (c *conn) finish(r *request, appStatus uint32, panicked bool) {
	// Release the request before END_REQUEST goes out: Apache sends the
	// next BEGIN_REQUEST, id 1 again, the moment it reads END_REQUEST
	// (fastcgi-apache.md §10, "Lesson from a probe bug").
	c.mu.Lock()
	// finished is set before the body is closed: a reader that gives up
	// on the body (drain limit) then ends the connection in teardown, which
	// must see finished to let END_REQUEST out first.
	r.finished = true
	// Without KEEP_CONN, close after END_REQUEST, but read the rest of the
	// body first if some is still coming (readStdin closes then).
	closeNow := c.srv.shuttingDown() || !r.keepConn && (r.stdinEnded || r.role == RoleAuthorizer)
	c.closing = c.closing || closeNow
	if !closeNow && c.idle > 0 {
		c.rwc.SetReadDeadline(time.Now().Add(c.idle))
	}
	c.mu.Unlock()
	r.body.closeRead()

	err := r.resp.finish(appStatus, panicked)
	switch {
	case err == errIncomplete:
		c.log.Warn("fcgi: closing connection without END_REQUEST: handler panicked after sending output", "req", r.id)
	case err != nil:
		c.log.Debug("fcgi: writing end of request", "req", r.id, "err", err)
	}

	c.mu.Lock()
	r.ended = true
	// Checked after ended is set, so that either this or Shutdown's
	// closeIfIdle closes an idle connection.
	closeNow = closeNow || err != nil || c.srv.shuttingDown()
	c.closing = c.closing || closeNow
	c.mu.Unlock()
	if closeNow {
		c.rwc.Close()
	}
}

func (c *conn) writeEndRequest(id uint16, appStatus uint32, protoStatus uint8) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf = AppendEndRequest(c.wbuf[:0], id, appStatus, protoStatus)
	return c.writeLocked(c.wbuf)
}

func (c *conn) writeUnknownType(t RecType) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf = appendUnknownType(c.wbuf[:0], t)
	return c.writeLocked(c.wbuf)
}

// writeLocked writes b in one Write. c.wmu must be held.
func (c *conn) writeLocked(b []byte) error {
	if c.werr != nil {
		return c.werr
	}
	if _, err := c.rwc.Write(b); err != nil {
		c.werr = err
		return err
	}
	return nil
}

// body is Request.Stdin: a pipe from the serve goroutine to the handler that
// holds one STDIN record's content at a time, without copying it. The serve
// goroutine blocks in write until the handler has read the whole chunk, so
// the web server is held back by the socket, and the bytes in flight are
// bounded by one record plus RecordReader's buffer.
type body struct {
	mu     sync.Mutex
	cond   sync.Cond // signals any change of chunk, err or done
	chunk  []byte    // written, not yet read; aliases the record buffer
	err    error     // end of stream: io.EOF, ErrRequestAborted or ErrConnClosed
	done   bool      // the handler returned: reads and writes fail
	noWait bool      // a Read that would wait returns io.EOF (roles without STDIN)
	onWait func()    // test hook: write is about to wait for the handler
}

func (b *body) init(noWait bool, onWait func()) {
	b.noWait, b.onWait = noWait, onWait
	b.cond.L = &b.mu
}

// Read reads the request body. It returns io.EOF after the empty STDIN
// record; ErrRequestAborted or ErrConnClosed if the body ended otherwise.
// For an AUTHORIZER, which gets no STDIN, a Read that would wait returns
// io.EOF instead; STDIN records that arrive before are delivered.
func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.chunk) == 0 {
		switch {
		case b.done:
			return 0, errBodyAfterReturn
		case b.err != nil:
			return 0, b.err
		case len(p) == 0:
			return 0, nil
		case b.noWait:
			b.err = io.EOF
			return 0, io.EOF
		}
		b.cond.Wait()
	}
	n := copy(p, b.chunk)
	b.chunk = b.chunk[n:]
	if len(b.chunk) == 0 {
		b.cond.Broadcast()
	}
	return n, nil
}

// write hands p to the handler and waits until it was read completely, or
// until the handler returned or ended the stream (noWait). It returns how
// much of p the handler read.
func (b *body) write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done || b.err != nil {
		return 0, errBodyClosed
	}
	b.chunk = p
	b.cond.Broadcast()
	for len(b.chunk) > 0 && !b.done && b.err == nil {
		if b.onWait != nil {
			b.onWait()
		}
		b.cond.Wait()
	}
	left := len(b.chunk)
	b.chunk = nil
	if left > 0 {
		return len(p) - left, errBodyClosed
	}
	return len(p), nil
}

// closeWrite ends the stream with err, unless it has ended already.
func (b *body) closeWrite(err error) {
	b.mu.Lock()
	if b.err == nil {
		b.err = err
	}
	b.cond.Broadcast()
	b.mu.Unlock()
}

// closeRead marks the handler as returned: a waiting write gives up.
func (b *body) closeRead() {
	b.mu.Lock()
	b.done = true
	b.cond.Broadcast()
	b.mu.Unlock()
}

// Response writes the reply to one request: STDOUT through Write and Flush,
// STDERR through Stderr. When ServeFCGI returns, the server sends what is
// buffered, the ends of the streams and END_REQUEST, in one write when they
// fit. A Response must not be used after ServeFCGI returns; its writes then
// fail. Write and Flush are not safe for concurrent use, but Stderr's writer
// may be used concurrently with them.
type Response struct {
	c      *conn
	id     uint16
	buf    *[]byte // pooled: a STDOUT header, then buffered content; nil before the first Write
	n      int64   // STDOUT bytes accepted by Write
	sent   bool    // STDOUT records went out on the connection
	err    error   // first error of Write or Flush, returned by every later call
	stderr stderrWriter

	// Guarded by c.wmu.
	aborted    bool // ABORT_REQUEST received: output is dropped
	done       bool // ServeFCGI returned
	stderrUsed bool // STDERR records were sent: the stream needs its empty record
}

// stdoutBufCap holds one maximal STDOUT record, its padding, the empty
// STDOUT and STDERR records and END_REQUEST: a response of up to 64 KiB goes
// out in one write.
const stdoutBufCap = headerLen + maxContent + 7 + 2*headerLen + headerLen + endBodyLen

var stdoutBufs = sync.Pool{New: func() any {
	b := make([]byte, 0, stdoutBufCap)
	return &b
}}

// Write buffers p as STDOUT content and sends a record whenever 65,535 bytes
// are buffered. After an error (a broken connection, ErrRequestAborted) it
// writes nothing more and returns that error.
func (w *Response) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	nn := 0
	for len(p) > 0 {
		if w.buf == nil {
			w.buf = stdoutBufs.Get().(*[]byte)
			*w.buf = (*w.buf)[:headerLen]
		}
		b := *w.buf
		n := copy(b[len(b):headerLen+maxContent], p)
		*w.buf = b[:len(b)+n]
		p = p[n:]
		nn += n
		w.n += int64(n)
		if len(*w.buf) == headerLen+maxContent {
			if err := w.flush(); err != nil {
				return nn, err
			}
		}
	}
	return nn, nil
}

// Flush sends the buffered STDOUT content now (for mod_python's req.flush;
// Apache passes it on only with flushpackets=on or FcgidOutputBufferSize 0,
// fastcgi-apache.md §2.4).
func (w *Response) Flush() error {
	if w.err != nil {
		return w.err
	}
	if w.buf == nil || len(*w.buf) == headerLen {
		return nil
	}
	return w.flush()
}

// Stderr returns a writer to FCGI_STDERR. Each Write is sent at once as
// records of its own; Apache logs each record as one error_log line, so
// callers write one line per Write.
func (w *Response) Stderr() io.Writer { return &w.stderr }

// Written returns the number of STDOUT bytes accepted by Write so far.
func (w *Response) Written() int64 { return w.n }

// sealStdout completes the STDOUT record buffered in b.
func (w *Response) sealStdout(b []byte) []byte {
	pad := putHeader(b, TypeStdout, w.id, len(b)-headerLen)
	return append(b, zeros[:pad]...)
}

func (w *Response) flush() error {
	b := w.sealStdout(*w.buf)
	w.c.wmu.Lock()
	err := w.writeLocked(b)
	w.c.wmu.Unlock()
	*w.buf = b[:headerLen]
	if err != nil {
		w.err = err
		return err
	}
	w.sent = true
	return nil
}

// writeLocked writes records of this response. c.wmu must be held.
func (w *Response) writeLocked(b []byte) error {
	switch {
	case w.aborted:
		return ErrRequestAborted
	case w.done:
		return errResponseDone
	}
	if err := w.c.writeLocked(b); err != nil {
		return fmt.Errorf("fcgi: request %d: write: %w", w.id, err)
	}
	return nil
}

func (w *Response) abort() {
	w.c.wmu.Lock()
	w.aborted = true
	w.c.wmu.Unlock()
}

// finish writes the rest of STDOUT, the ends of the streams and END_REQUEST
// in one write. A panicked handler's buffered output is dropped; if some
// was sent already, finish writes nothing and returns errIncomplete, so that
// the connection is closed and the web server sees the response break off.
func (w *Response) finish(appStatus uint32, panicked bool) error {
	if w.buf == nil {
		w.buf = stdoutBufs.Get().(*[]byte)
		*w.buf = (*w.buf)[:headerLen]
	}
	b := *w.buf
	switch {
	case panicked:
		b, appStatus = b[:0], panicAppStatus
	case len(b) > headerLen:
		b = w.sealStdout(b)
	default:
		b = b[:0]
	}
	c := w.c
	var err error
	c.wmu.Lock()
	switch {
	case w.aborted:
		// Spec §5.4: an aborted request ends with END_REQUEST alone.
		b = AppendEndRequest(b[:0], w.id, appStatus, StatusRequestComplete)
		err = c.writeLocked(b)
	case w.err != nil:
		err = w.err
	case panicked && w.sent:
		err = errIncomplete
	default:
		b = appendHeader(b, TypeStdout, w.id, 0)
		if w.stderrUsed {
			b = appendHeader(b, TypeStderr, w.id, 0)
		}
		b = AppendEndRequest(b, w.id, appStatus, StatusRequestComplete)
		err = c.writeLocked(b)
	}
	w.done = true
	c.wmu.Unlock()
	*w.buf = b[:0]
	stdoutBufs.Put(w.buf)
	w.buf = nil
	if w.err == nil {
		w.err = errResponseDone
	}
	return err
}

// stderrWriter is Response.Stderr.
type stderrWriter struct{ w *Response }

func (s *stderrWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil // an empty record would end the stream
	}
	w, c := s.w, s.w.c
	c.wmu.Lock()
	defer c.wmu.Unlock()
	nn := 0
	for len(p) > 0 {
		n := min(len(p), maxContent)
		c.wbuf = AppendRecord(c.wbuf[:0], TypeStderr, w.id, p[:n])
		if err := w.writeLocked(c.wbuf); err != nil {
			return nn, err
		}
		w.stderrUsed = true
		nn += n
		p = p[n:]
	}
	if cap(c.wbuf) > keepWbufCap {
		c.wbuf = nil
	}
	return nn, nil
}
