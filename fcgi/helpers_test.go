package fcgi

// Test helpers: a logger that writes to t.Log, a FastCGI client that speaks
// like Apache, and servers over net.Pipe and unix sockets.

import (
	"bytes"
	"context"
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
	"testing"
	"testing/iotest"
	"time"
)

// testLog passes the server's log lines to t.Log and keeps them for checks.
type testLog struct {
	t       testing.TB
	mu      sync.Mutex
	written sync.Cond // signalled at every line
	sb      strings.Builder
}

func newTestLogger(t testing.TB) (*slog.Logger, *testLog) {
	l := &testLog{t: t}
	l.written.L = &l.mu
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug})), l
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.sb.Write(p)
	l.written.Broadcast()
	l.mu.Unlock()
	l.t.Logf("server: %s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}

func (l *testLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sb.String()
}

// waitFor waits until the log contains sub.
func (l *testLog) waitFor(sub string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for !strings.Contains(l.sb.String(), sub) {
		l.written.Wait()
	}
}

// wantLogged fails unless the log has a line containing all of subs.
func (l *testLog) wantLogged(t testing.TB, subs ...string) {
	t.Helper()
	for _, line := range strings.Split(l.String(), "\n") {
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(line, s)
		}
		if ok {
			return
		}
	}
	t.Errorf("no log line contains %q; log:\n%s", subs, l.String())
}

func newTestServer(t testing.TB, h HandlerFunc) (*Server, *testLog) {
	logger, log := newTestLogger(t)
	return &Server{Handler: h, Logger: logger}, log
}

// transport is a way for tests to connect to a server: serve returns a dial
// function and stops the server in t.Cleanup.
type transport struct {
	name  string
	serve func(t *testing.T, s *Server) func() net.Conn
}

var transports = []transport{
	{"pipe", servePipe},
	{"unix", serveUnix},
}

// chunkedTransports add the reader chunkings of record_test.go to the
// server's side of a pipe, for tests with small inputs.
var chunkedTransports = append(transports[:len(transports):len(transports)],
	transport{"pipe/OneByteReader", servePipeThrough(iotest.OneByteReader)},
	transport{"pipe/HalfReader", servePipeThrough(iotest.HalfReader)},
)

// servePipe serves each dialled connection with ServeConn over net.Pipe.
func servePipe(t *testing.T, s *Server) func() net.Conn {
	return servePipeThrough(nil)(t, s)
}

// servePipeThrough is servePipe with the server reading through wrap.
func servePipeThrough(wrap func(io.Reader) io.Reader) func(t *testing.T, s *Server) func() net.Conn {
	return func(t *testing.T, s *Server) func() net.Conn {
		return func() net.Conn {
			cl, sv := net.Pipe()
			if wrap != nil {
				sv = &readerConn{Conn: sv, r: wrap(sv)}
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				s.ServeConn(sv)
			}()
			t.Cleanup(func() {
				cl.Close()
				<-done
			})
			return cl
		}
	}
}

// readerConn is a connection read through r.
type readerConn struct {
	net.Conn
	r io.Reader
}

func (c *readerConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// serveUnix runs Serve on a unix socket in a fresh directory.
func serveUnix(t *testing.T, s *Server) func() net.Conn {
	path, l := listenUnix(t)
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-served; err != ErrServerClosed {
			t.Errorf("Serve = %v, want ErrServerClosed", err)
		}
		if err := s.Shutdown(context.Background()); err != nil { // waits for handlers
			t.Errorf("Shutdown after Close = %v", err)
		}
	})
	return func() net.Conn {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
}

func listenUnix(t *testing.T) (string, net.Listener) {
	// Not t.TempDir: a unix socket path must stay under 108 bytes.
	dir, err := os.MkdirTemp("", "fcgi")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "s")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	return path, l
}

// testRequest is one request as Apache sends it.
type testRequest struct {
	id      uint16 // 0 means 1
	role    Role   // 0 means RESPONDER
	keep    bool
	params  []Param
	body    []byte
	chunks  []int // STDIN record sizes, repeated; nil means one record
	noStdin bool  // no STDIN record at all, as for an AUTHORIZER
}

func (r testRequest) reqID() uint16 {
	if r.id == 0 {
		return 1
	}
	return r.id
}

// head is BEGIN_REQUEST and the PARAMS stream.
func (r testRequest) head() []byte {
	role := r.role
	if role == 0 {
		role = RoleResponder
	}
	b := AppendBeginRequest(nil, r.reqID(), role, r.keep)
	if len(r.params) > 0 {
		b = AppendRecord(b, TypeParams, r.reqID(), AppendParams(nil, r.params))
	}
	return AppendRecord(b, TypeParams, r.reqID(), nil)
}

// stdin is the STDIN stream, in records of r.chunks sizes.
func (r testRequest) stdin() []byte {
	if r.noStdin {
		return nil
	}
	var b []byte
	body := r.body
	for i := 0; len(body) > 0; i++ {
		n := len(body)
		if len(r.chunks) > 0 {
			n = min(n, r.chunks[i%len(r.chunks)])
		}
		b = AppendRecord(b, TypeStdin, r.reqID(), body[:n])
		body = body[n:]
	}
	return AppendRecord(b, TypeStdin, r.reqID(), nil)
}

func (r testRequest) bytes() []byte { return append(r.head(), r.stdin()...) }

// client is the web server's end of a connection.
type client struct {
	t  *testing.T
	c  net.Conn
	rr *RecordReader
}

func newClient(t *testing.T, c net.Conn) *client {
	return &client{t: t, c: c, rr: NewRecordReader(c)}
}

// send writes b and fails the test on error. Over net.Pipe it returns when
// the server has read all of b.
func (cl *client) send(b []byte) {
	cl.t.Helper()
	if _, err := cl.c.Write(b); err != nil {
		cl.t.Fatalf("client write: %v", err)
	}
}

// sendAsync writes b in a goroutine, for when the server answers before
// reading all of it.
func (cl *client) sendAsync(b []byte) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := cl.c.Write(b)
		done <- err
	}()
	return done
}

// next reads one record, copying its content.
func (cl *client) next() (Record, error) {
	rec, err := cl.rr.Read()
	if err != nil {
		return Record{}, err
	}
	return Record{rec.Header, bytes.Clone(rec.Content)}, nil
}

// testResponse is what the server sent for one request.
type testResponse struct {
	stdout, stderr []byte
	stdoutRecords  int
	stderrRecords  []string
	stdoutEnded    bool
	stderrEnded    bool
	appStatus      uint32
	protoStatus    uint8
}

// response reads records until END_REQUEST for id and fails the test on
// anything else.
func (cl *client) response(id uint16) testResponse {
	cl.t.Helper()
	var resp testResponse
	for {
		rec, err := cl.next()
		if err != nil {
			cl.t.Fatalf("reading response to request %d: %v (so far: %q)", id, err, resp.stdout)
		}
		if rec.ID != id {
			cl.t.Fatalf("record %v for request %d, want request %d", rec.Type, rec.ID, id)
		}
		switch rec.Type {
		case TypeStdout:
			if resp.stdoutEnded {
				cl.t.Fatalf("STDOUT after the end of STDOUT")
			}
			if len(rec.Content) == 0 {
				resp.stdoutEnded = true
			}
			resp.stdoutRecords++
			resp.stdout = append(resp.stdout, rec.Content...)
		case TypeStderr:
			if resp.stderrEnded {
				cl.t.Fatalf("STDERR after the end of STDERR")
			}
			if len(rec.Content) == 0 {
				resp.stderrEnded = true
			} else {
				resp.stderrRecords = append(resp.stderrRecords, string(rec.Content))
			}
			resp.stderr = append(resp.stderr, rec.Content...)
		case TypeEndRequest:
			if len(rec.Content) != 8 {
				cl.t.Fatalf("END_REQUEST content % x", rec.Content)
			}
			resp.appStatus = uint32(rec.Content[0])<<24 | uint32(rec.Content[1])<<16 | uint32(rec.Content[2])<<8 | uint32(rec.Content[3])
			resp.protoStatus = rec.Content[4]
			return resp
		default:
			cl.t.Fatalf("unexpected record %v", rec.Header)
		}
	}
}

// ok reads a normal response to id and returns its STDOUT.
func (cl *client) ok(id uint16) string {
	cl.t.Helper()
	resp := cl.response(id)
	if resp.protoStatus != StatusRequestComplete || !resp.stdoutEnded {
		cl.t.Fatalf("response to request %d: protocol status %d, stdout ended %v; stdout %q",
			id, resp.protoStatus, resp.stdoutEnded, resp.stdout)
	}
	return string(resp.stdout)
}

// closed reads until the server closes the connection and returns the
// records it sent before.
func (cl *client) closed() []Record {
	cl.t.Helper()
	var recs []Record
	for {
		rec, err := cl.next()
		if err == nil {
			recs = append(recs, rec)
			continue
		}
		if err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
			cl.t.Fatalf("reading until close: %v, want io.EOF", err)
		}
		return recs
	}
}

// countingConn counts the Write calls and the bytes read on a connection.
type countingConn struct {
	net.Conn
	writes    atomic.Int64
	readBytes atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.readBytes.Add(int64(n))
	return n, err
}

// echo is a responder that reads the whole body and reports what it got.
func echo(w *Response, r *Request) uint32 {
	body, err := io.ReadAll(r.Stdin)
	cl, hasCL := r.LookupParam("CONTENT_LENGTH")
	w.Write([]byte("Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n"))
	w.Write([]byte(echoSummary(r.ID, r.Role, r.KeepConn, len(r.Params), cl, hasCL, err)))
	w.Write(body)
	return 0
}

func echoSummary(id uint16, role Role, keep bool, nparams int, cl string, hasCL bool, err error) string {
	return fmt.Sprintf("id=%d role=%v keep=%v params=%d content_length=%q/%v err=%v\n", id, role, keep, nparams, cl, hasCL, err)
}

// TestMain fails the run if a server goroutine outlived the tests: every
// test waits for its connections (ServeConn returning, Shutdown) in cleanup.
func TestMain(m *testing.M) {
	code := m.Run()
	// A connection's last goroutine may still be on its way out when the
	// last test returns (on a loaded machine, runnable but not yet run):
	// only goroutines still there after a few seconds are leaks.
	var leaked []string
	for deadline := time.Now().Add(5 * time.Second); ; {
		leaked = leaked[:0]
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "fcgi.(*conn).") || strings.Contains(g, "fcgi.(*Server).") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 || time.Now().After(deadline) {
			break
		}
		runtime.Gosched()
	}
	for _, g := range leaked {
		fmt.Fprintf(os.Stderr, "leaked server goroutine:\n%s\n", g)
		code = 1
	}
	os.Exit(code)
}
