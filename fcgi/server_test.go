package fcgi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

const statusOK = "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n"

func randomBody(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(1, uint64(n)))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestResponderBodyChunks(t *testing.T) {
	for _, tr := range transports {
		for _, tt := range []struct {
			name   string
			size   int
			chunks []int
		}{
			{"apache sizes 8000/192/7808/384", 100_000, []int{8000, 192, 7808, 384}},
			{"one byte records", 3000, []int{1}},
			{"maximal records", 200_000, []int{65535}},
			{"odd sizes", 50_000, []int{3, 7, 1, 4093, 8}},
			{"empty body", 0, nil},
		} {
			t.Run(tr.name+"/"+tt.name, func(t *testing.T) {
				s, _ := newTestServer(t, echo)
				cl := newClient(t, tr.serve(t, s)())
				body := randomBody(tt.size)
				cl.sendAsync(testRequest{
					params: []Param{{"REQUEST_METHOD", "POST"}, {"CONTENT_LENGTH", fmt.Sprint(len(body))}},
					body:   body, chunks: tt.chunks,
				}.bytes())
				got := cl.ok(1)
				want := statusOK + echoSummary(1, RoleResponder, false, 2, fmt.Sprint(len(body)), true, nil) + string(body)
				if got != want {
					t.Errorf("stdout = %.200q (%d bytes), want %.200q (%d bytes)", got, len(got), want, len(want))
				}
				cl.closed() // no KEEP_CONN
			})
		}
	}
}

// TestBodyWithoutContentLength: a chunked body through mod_proxy_fcgi comes
// without CONTENT_LENGTH and ends only at the empty STDIN record
// (fastcgi-apache.md §2.3).
func TestBodyWithoutContentLength(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			s, _ := newTestServer(t, echo)
			cl := newClient(t, tr.serve(t, s)())
			body := randomBody(300_000)
			cl.sendAsync(testRequest{
				params: []Param{{"REQUEST_METHOD", "POST"}, {"HTTP_TRANSFER_ENCODING", "chunked"}},
				body:   body, chunks: []int{8192},
			}.bytes())
			want := statusOK + echoSummary(1, RoleResponder, false, 2, "", false, nil) + string(body)
			if got := cl.ok(1); got != want {
				t.Errorf("stdout = %.200q (%d bytes), want %d bytes", got, len(got), len(want))
			}
		})
	}
}

// TestHandlerStartsAtEndOfParams: the handler runs before any STDIN record
// is sent; the client sends the body only once the handler has started.
func TestHandlerStartsAtEndOfParams(t *testing.T) {
	started := make(chan struct{})
	s, _ := newTestServer(t, func(w *Response, r *Request) uint32 {
		close(started)
		return echo(w, r)
	})
	cl := newClient(t, servePipe(t, s)())
	req := testRequest{body: []byte("late body")}
	cl.send(req.head())
	<-started
	cl.send(req.stdin())
	if got, want := cl.ok(1), statusOK+echoSummary(1, RoleResponder, false, 0, "", false, nil)+"late body"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
}

// TestAuthorizerWithoutStdin: mod_fcgid and mod_authnz_fcgi send an
// AUTHORIZER no STDIN record at all (fastcgi-apache.md §1.8); the handler
// must start, see an empty body and finish.
func TestAuthorizerWithoutStdin(t *testing.T) {
	const reply = "Status: 200 OK\r\nVariable-MPGATE_USER: bob\r\n\r\n"
	for _, tr := range chunkedTransports {
		for _, keep := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/keep=%v", tr.name, keep), func(t *testing.T) {
				s, _ := newTestServer(t, func(w *Response, r *Request) uint32 {
					body, err := io.ReadAll(r.Stdin)
					if err != nil || len(body) != 0 || r.Role != RoleAuthorizer {
						fmt.Fprintf(w, "Status: 500 Internal Server Error\r\n\r\nrole %v body %q err %v", r.Role, body, err)
						return 1
					}
					fmt.Fprint(w, reply)
					return 0
				})
				cl := newClient(t, tr.serve(t, s)())
				req := testRequest{role: RoleAuthorizer, keep: keep, noStdin: true,
					params: []Param{{"FCGI_APACHE_ROLE", "AUTHORIZER"}, {"REMOTE_USER", "bob"}}}
				for range 2 {
					cl.send(req.bytes())
					if got := cl.ok(1); got != reply {
						t.Fatalf("stdout = %q, want %q", got, reply)
					}
					if !keep {
						cl.closed()
						return
					}
				}
			})
		}
	}
}

// TestAuthorizerStrayStdin: STDIN records sent to an AUTHORIZER anyway are
// delivered if they arrive before the handler reads.
func TestAuthorizerStrayStdin(t *testing.T) {
	s, _ := newTestServer(t, nil)
	waiting := make(chan struct{}, 1)
	s.testHookStdinWait = func() {
		select {
		case waiting <- struct{}{}:
		default:
		}
	}
	s.Handler = HandlerFunc(func(w *Response, r *Request) uint32 {
		if r.Role == RoleAuthorizer {
			<-waiting // the STDIN record waits in the pipe
		}
		body, err := io.ReadAll(r.Stdin)
		fmt.Fprintf(w, "body=%q err=%v", body, err)
		return 0
	})
	cl := newClient(t, servePipe(t, s)())
	cl.sendAsync(testRequest{role: RoleAuthorizer, keep: true, body: []byte("stray")}.bytes())
	if got, want := cl.ok(1), `body="stray" err=<nil>`; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	// The connection is still in step: a second request works.
	cl.send(testRequest{keep: true}.bytes())
	cl.ok(1)
}

// TestKeepConnSequential: with enablereuse=on Apache sends the next
// BEGIN_REQUEST, id 1 again, the moment it has read END_REQUEST
// (fastcgi-apache.md §10).
func TestKeepConnSequential(t *testing.T) {
	for _, tr := range chunkedTransports {
		t.Run(tr.name, func(t *testing.T) {
			s, _ := newTestServer(t, echo)
			cl := newClient(t, tr.serve(t, s)())
			reqs := []testRequest{
				{keep: true, body: []byte("first"), params: []Param{{"CONTENT_LENGTH", "5"}}},
				{keep: true, role: RoleAuthorizer, noStdin: true},
				{keep: true},
				{keep: true, body: randomBody(70_000), chunks: []int{8000, 192, 7808}},
				{keep: false, body: []byte("last")},
			}
			for i, req := range reqs {
				done := cl.sendAsync(req.bytes())
				got := cl.ok(1)
				if err := <-done; err != nil {
					t.Fatalf("request %d: write: %v", i, err)
				}
				cl0, has := "", false
				for _, p := range req.params {
					if p.Name == "CONTENT_LENGTH" {
						cl0, has = p.Value, true
					}
				}
				role := req.role
				if role == 0 {
					role = RoleResponder
				}
				want := statusOK + echoSummary(1, role, req.keep, len(req.params), cl0, has, nil) + string(req.body)
				if got != want {
					t.Fatalf("request %d: stdout = %.200q, want %.200q", i, got, want)
				}
			}
			cl.closed()
		})
	}
}

func TestParamsSplitAnywhere(t *testing.T) {
	params := []Param{{"SCRIPT_NAME", "/x/file.py"}, {"LONG", strings.Repeat("v", 200)}, {"EMPTY", ""}, {"SCRIPT_NAME", "dup"}}
	raw := AppendParams(nil, params)
	s, _ := newTestServer(t, func(w *Response, r *Request) uint32 {
		fmt.Fprintf(w, "%q", r.Params)
		return 0
	})
	cl := newClient(t, servePipe(t, s)())
	want := fmt.Sprintf("%q", params)
	send := func(pieces ...[]byte) {
		t.Helper()
		b := AppendBeginRequest(nil, 1, RoleResponder, true)
		for _, p := range pieces {
			if len(p) > 0 {
				b = AppendRecord(b, TypeParams, 1, p)
			}
		}
		b = AppendRecord(b, TypeParams, 1, nil)
		cl.send(AppendRecord(b, TypeStdin, 1, nil))
		if got := cl.ok(1); got != want {
			t.Fatalf("params = %s, want %s", got, want)
		}
	}
	for k := 0; k <= len(raw); k++ {
		send(raw[:k], raw[k:])
	}
	var ones [][]byte
	for i := range raw {
		ones = append(ones, raw[i:i+1])
	}
	send(ones...)
}

func TestNoKeepConnDrainsThenCloses(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			s, _ := newTestServer(t, func(w *Response, r *Request) uint32 {
				fmt.Fprint(w, "Status: 413 Request Entity Too Large\r\n\r\n")
				return 0
			})
			cl := newClient(t, tr.serve(t, s)())
			done := cl.sendAsync(testRequest{body: randomBody(1 << 20), chunks: []int{8192}}.bytes())
			cl.ok(1)
			if err := <-done; err != nil {
				t.Fatalf("client write: %v (server must read the body before closing)", err)
			}
			if _, err := cl.next(); err != io.EOF {
				t.Errorf("after END_REQUEST: %v, want io.EOF (no reset)", err)
			}
		})
	}
}

// TestHandlerIgnoresBody: the unread body is discarded after the handler
// returns, and the next request on the connection is served.
func TestHandlerIgnoresBody(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			s, _ := newTestServer(t, func(w *Response, r *Request) uint32 {
				if r.Param("IGNORE") != "" {
					fmt.Fprint(w, "Status: 204 No Content\r\n\r\n")
					return 0
				}
				return echo(w, r)
			})
			cl := newClient(t, tr.serve(t, s)())
			done := cl.sendAsync(testRequest{keep: true, params: []Param{{"IGNORE", "1"}},
				body: randomBody(3 << 20), chunks: []int{65535, 8000}}.bytes())
			if got, want := cl.ok(1), "Status: 204 No Content\r\n\r\n"; got != want {
				t.Fatalf("stdout = %q, want %q", got, want)
			}
			if err := <-done; err != nil {
				t.Fatalf("client write: %v", err)
			}
			cl.send(testRequest{keep: true, body: []byte("next")}.bytes())
			if got := cl.ok(1); !strings.HasSuffix(got, "next") {
				t.Errorf("second request stdout = %q", got)
			}
		})
	}
}

func TestUnreadBodyLimit(t *testing.T) {
	s, log := newTestServer(t, func(w *Response, r *Request) uint32 { return 0 })
	s.maxDrainBytes = 64 << 10
	cl := newClient(t, servePipe(t, s)())
	cl.sendAsync(testRequest{keep: true, body: randomBody(1 << 20), chunks: []int{8192}}.bytes())
	cl.ok(1)
	cl.closed()
	log.wantLogged(t, "fcgi: request 1: more than 65536 bytes of request body left unread")
}

func TestMultiplexRefused(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			release := make(chan struct{})
			s, log := newTestServer(t, func(w *Response, r *Request) uint32 {
				<-release
				return echo(w, r)
			})
			cl := newClient(t, tr.serve(t, s)())
			first := testRequest{keep: true, body: []byte("one")}
			cl.send(first.head())
			// Request 2 arrives whole while request 1 runs; its PARAMS and
			// STDIN are discarded after the refusal.
			cl.send(testRequest{id: 2, keep: true, body: []byte("two"), params: []Param{{"A", "b"}}}.bytes())
			resp := cl.response(2)
			if resp.protoStatus != StatusCantMpxConn || resp.stdoutRecords != 0 {
				t.Errorf("request 2: protocol status %d, %d STDOUT records; want FCGI_CANT_MPX_CONN, none", resp.protoStatus, resp.stdoutRecords)
			}
			close(release)
			cl.send(first.stdin())
			if got := cl.ok(1); !strings.HasSuffix(got, "one") {
				t.Errorf("request 1 stdout = %q", got)
			}
			log.wantLogged(t, "refusing multiplexed request", "req=2", "active=1")
			// Request 2 may come back once request 1 is done.
			cl.send(testRequest{id: 2, keep: true, body: []byte("two")}.bytes())
			if got := cl.ok(2); !strings.HasSuffix(got, "two") {
				t.Errorf("request 2 stdout = %q", got)
			}
		})
	}
}

// TestGetValues checks the reply byte for byte, sent while a request is in
// flight.
func TestGetValues(t *testing.T) {
	release := make(chan struct{})
	s, _ := newTestServer(t, func(w *Response, r *Request) uint32 {
		<-release
		return echo(w, r)
	})
	s.MaxConns = 50
	cl := newClient(t, servePipe(t, s)())
	req := testRequest{keep: true}
	cl.send(req.head())
	cl.send(AppendRecord(nil, TypeGetValues, 0, AppendParams(nil, []Param{
		{"FCGI_MAX_CONNS", ""}, {"FCGI_MAX_REQS", ""}, {"X_UNKNOWN", ""}, {"FCGI_MPXS_CONNS", ""}, {"FCGI_MAX_CONNS", ""},
	})))
	want := []byte{
		1,    // version
		10,   // type GET_VALUES_RESULT
		0, 0, // request id 0
		0, 53, // content length 53
		3,     // padding length 3
		0,     // reserved
		14, 2, // name length 14, value length 2
		'F', 'C', 'G', 'I', '_', 'M', 'A', 'X', '_', 'C', 'O', 'N', 'N', 'S', '5', '0',
		13, 2, // name length 13, value length 2
		'F', 'C', 'G', 'I', '_', 'M', 'A', 'X', '_', 'R', 'E', 'Q', 'S', '5', '0',
		15, 1, // name length 15, value length 1
		'F', 'C', 'G', 'I', '_', 'M', 'P', 'X', 'S', '_', 'C', 'O', 'N', 'N', 'S', '0',
		0, 0, 0, // padding
	}
	got := make([]byte, len(want))
	if _, err := io.ReadFull(cl.c, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("GET_VALUES_RESULT =\n% x\nwant\n% x", got, want)
	}
	close(release)
	cl.send(req.stdin())
	cl.ok(1)
}

func TestUnknownType(t *testing.T) {
	s, _ := newTestServer(t, echo)
	cl := newClient(t, servePipe(t, s)())
	for _, tt := range []struct {
		name string
		in   []byte
		want []byte
	}{
		{
			name: "management type 42",
			in:   AppendRecord(nil, 42, 0, []byte("abc")),
			want: []byte{
				1,    // version
				11,   // type UNKNOWN_TYPE
				0, 0, // request id 0
				0, 8, // content length 8
				0,                   // padding length
				0,                   // reserved
				42,                  // the type
				0, 0, 0, 0, 0, 0, 0, // reserved
			},
		},
		{
			name: "type 0",
			in:   AppendRecord(nil, 0, 0, nil),
			want: []byte{1, 11, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		},
		{
			name: "type 200 with a request id",
			in:   AppendRecord(nil, 200, 1, []byte("x")),
			want: []byte{1, 11, 0, 0, 0, 8, 0, 0, 200, 0, 0, 0, 0, 0, 0, 0},
		},
		{
			name: "END_REQUEST as a management record",
			in:   AppendEndRequest(nil, 0, 0, 0),
			want: []byte{1, 11, 0, 0, 0, 8, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0},
		},
	} {
		cl.send(tt.in)
		got := make([]byte, len(tt.want))
		if _, err := io.ReadFull(cl.c, got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, tt.want) {
			t.Errorf("%s: reply % x, want % x", tt.name, got, tt.want)
		}
	}
	cl.send(testRequest{keep: true}.bytes())
	cl.ok(1)
}

func TestUnknownRole(t *testing.T) {
	for _, tt := range []struct {
		role Role
		keep bool
	}{{7, true}, {RoleFilter, true}, {7, false}, {RoleFilter, false}} {
		t.Run(fmt.Sprintf("%v/keep=%v", tt.role, tt.keep), func(t *testing.T) {
			s, log := newTestServer(t, echo)
			cl := newClient(t, servePipe(t, s)())
			cl.sendAsync(testRequest{role: tt.role, keep: tt.keep, body: []byte("x"), params: []Param{{"A", "b"}}}.bytes())
			if resp := cl.response(1); resp.protoStatus != StatusUnknownRole || resp.stdoutRecords != 0 {
				t.Errorf("protocol status %d, %d STDOUT records; want FCGI_UNKNOWN_ROLE, none", resp.protoStatus, resp.stdoutRecords)
			}
			log.wantLogged(t, "unsupported role", "req=1", "role="+tt.role.String())
			if !tt.keep {
				cl.closed()
				return
			}
			cl.send(testRequest{keep: true, body: []byte("after")}.bytes())
			if got := cl.ok(1); !strings.HasSuffix(got, "after") {
				t.Errorf("next request stdout = %q", got)
			}
		})
	}
}

// TestProtocolErrors: each input closes the connection and logs its cause.
func TestProtocolErrors(t *testing.T) {
	begin := AppendBeginRequest(nil, 1, RoleResponder, true)
	endParams := AppendRecord(nil, TypeParams, 1, nil)
	malformed := cat(
		[]byte{4, 6}, []byte("NAMEVALUE1"), []byte{1, 0x80, 0, 1, 0x2c}, []byte("X"), bytes.Repeat([]byte("v"), 20))
	refused := func() []byte {
		b := cat(begin, endParams)
		for id := uint16(2); id <= 2+maxRefused; id++ {
			b = AppendBeginRequest(b, id, RoleResponder, true)
		}
		return b
	}
	for _, tt := range []struct {
		name string
		in   []byte
		want string
	}{
		{"version 2", []byte{2, 1, 0, 1, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0},
			"fcgi: request 1: begin request: record version 2, want 1"},
		{"http instead of fastcgi", []byte("GET / HTTP/1.0\r\n\r\n"), "record version 71, want 1"},
		{"begin request body of 7 bytes", []byte{1, 1, 0, 1, 0, 7, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0},
			"fcgi: request 1: begin request: content length 7, want 8"},
		{"stdin for unknown request", AppendRecord(nil, TypeStdin, 3, []byte("x")),
			"fcgi: request 3: stdin: no request with this id is active"},
		{"params for another request", cat(begin, AppendRecord(nil, TypeParams, 2, []byte{0, 0})),
			"fcgi: request 2: params: no request with this id is active"},
		{"stdin before end of params", cat(begin, AppendRecord(nil, TypeStdin, 1, []byte("x"))),
			"fcgi: request 1: stdin: stdin before the end of params"},
		{"params too large", cat(begin, AppendRecord(nil, TypeParams, 1, make([]byte, 40)), AppendRecord(nil, TypeParams, 1, make([]byte, 40))),
			"fcgi: request 1: params: params exceed 64 bytes (MaxParamsBytes)"},
		{"malformed params", cat(begin, AppendRecord(nil, TypeParams, 1, malformed), endParams),
			"fcgi: request 1: params: name-value pair at offset 12: value length 300 exceeds remaining 20 bytes"},
		{"params after end of params", cat(begin, endParams, AppendRecord(nil, TypeParams, 1, []byte{0, 0})),
			"fcgi: request 1: params: params after the end of params"},
		{"begin request for the active request", cat(begin, endParams, begin),
			"fcgi: request 1: begin request: request is already active"},
		{"stdin after end of stdin", cat(begin, endParams, AppendRecord(nil, TypeStdin, 1, nil), AppendRecord(nil, TypeStdin, 1, []byte("x"))),
			"fcgi: request 1: stdin: stdin after the end of stdin"},
		{"stdout from the web server", AppendRecord(nil, TypeStdout, 1, []byte("x")),
			"fcgi: request 1: stdout: record type sent only by applications"},
		{"stdin with request id 0", AppendRecord(nil, TypeStdin, 0, []byte("x")),
			"fcgi: stdin: application record with request id 0"},
		{"get values with a request id", AppendRecord(nil, TypeGetValues, 1, nil),
			"fcgi: request 1: get values: management record with a request id"},
		{"malformed get values", AppendRecord(nil, TypeGetValues, 0, []byte{5}),
			"fcgi: get values: name-value pair at offset 0: value length missing"},
		{"data for a responder", cat(begin, endParams, AppendRecord(nil, TypeData, 1, []byte("x"))),
			"fcgi: request 1: data: data stream for a RESPONDER request"},
		{"too many refused requests", refused(),
			fmt.Sprintf("fcgi: request %d: begin request: more than %d refused requests outstanding", 2+maxRefused, maxRefused)},
	} {
		for _, tr := range chunkedTransports {
			t.Run(tt.name+"/"+tr.name, func(t *testing.T) {
				s, log := newTestServer(t, echo)
				s.MaxParamsBytes = 64
				cl := newClient(t, tr.serve(t, s)())
				cl.sendAsync(tt.in)
				cl.closed()
				log.wantLogged(t, "level=ERROR", "closing connection", tt.want)
			})
		}
	}
}

// TestTruncatedRecord: the web server closes its side in the middle of a
// record.
func TestTruncatedRecord(t *testing.T) {
	s, log := newTestServer(t, echo)
	c := serveUnix(t, s)().(*net.UnixConn)
	cl := newClient(t, c)
	cl.send(cat(AppendBeginRequest(nil, 1, RoleResponder, true), []byte{1, 4, 0, 1, 0, 9}))
	c.CloseWrite()
	cl.closed()
	log.wantLogged(t, "fcgi: record header truncated after 6 bytes: unexpected EOF")
}

// TestNewRequestWithoutKeepConn: a client that begins another request on a
// connection whose request had no KEEP_CONN breaks the protocol.
func TestNewRequestWithoutKeepConn(t *testing.T) {
	s, log := newTestServer(t, func(w *Response, r *Request) uint32 { return 0 })
	cl := newClient(t, servePipe(t, s)())
	req := testRequest{body: []byte("unread")}
	cl.send(req.head())
	cl.ok(1)
	cl.send(testRequest{}.head())
	cl.closed()
	log.wantLogged(t, "new request after a request without FCGI_KEEP_CONN")
}

func TestAbortRequest(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			type result struct{ read, write, flush, stderr error }
			results := make(chan result, 1)
			s, _ := newTestServer(t, func(w *Response, r *Request) uint32 {
				if r.Param("ABORT") == "" {
					return echo(w, r)
				}
				var res result
				_, res.read = io.Copy(io.Discard, r.Stdin) // "abc", then waits for the abort
				_, res.write = w.Write([]byte("Status: 200 OK\r\n\r\nlate"))
				res.flush = w.Flush()
				_, res.stderr = w.Stderr().Write([]byte("late\n"))
				results <- res
				return 7
			})
			cl := newClient(t, tr.serve(t, s)())
			cl.send(AppendRecord(testRequest{keep: true, params: []Param{{"ABORT", "1"}}}.head(), TypeStdin, 1, []byte("abc")))
			cl.send(AppendRecord(nil, TypeAbortRequest, 1, nil))
			resp := cl.response(1)
			if resp.appStatus != 7 || resp.protoStatus != StatusRequestComplete || resp.stdoutRecords != 0 || len(resp.stderrRecords) != 0 {
				t.Errorf("aborted request: %+v; want END_REQUEST alone with appStatus 7", resp)
			}
			res := <-results
			if res.read != ErrRequestAborted || res.flush != ErrRequestAborted || res.stderr != ErrRequestAborted {
				t.Errorf("after abort: read %v, flush %v, stderr %v; want ErrRequestAborted", res.read, res.flush, res.stderr)
			}
			// A second END_REQUEST for request 1 would show up here.
			cl.send(testRequest{keep: true, body: []byte("next")}.bytes())
			if got := cl.ok(1); !strings.HasSuffix(got, "next") {
				t.Errorf("next request stdout = %q", got)
			}
			// ABORT_REQUEST for a request that has ended is ignored.
			cl.send(AppendRecord(nil, TypeAbortRequest, 1, nil))
			// Aborted before the end of PARAMS: answered at once.
			cl.send(AppendRecord(AppendBeginRequest(nil, 1, RoleResponder, true), TypeAbortRequest, 1, nil))
			if resp := cl.response(1); resp.protoStatus != StatusRequestComplete || resp.stdoutRecords != 0 {
				t.Errorf("request aborted during PARAMS: %+v", resp)
			}
			cl.send(testRequest{keep: true, body: []byte("last")}.bytes())
			if got := cl.ok(1); !strings.HasSuffix(got, "last") {
				t.Errorf("last request stdout = %q", got)
			}
		})
	}
}

func TestHandlerPanic(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			s, log := newTestServer(t, func(w *Response, r *Request) uint32 {
				switch r.Param("PANIC") {
				case "before output":
					w.Write([]byte("Status: 200 OK\r\n\r\nbuffered, dropped"))
					panic("boom before output")
				case "after output":
					w.Write([]byte("Status: 200 OK\r\n\r\npartial"))
					w.Flush()
					panic("boom after output")
				}
				return echo(w, r)
			})
			dial := tr.serve(t, s)
			cl := newClient(t, dial())
			cl.send(testRequest{keep: true, params: []Param{{"PANIC", "before output"}}}.bytes())
			resp := cl.response(1)
			if resp.appStatus != panicAppStatus || len(resp.stdout) != 0 || !resp.stdoutEnded {
				t.Errorf("after panic: %+v; want empty STDOUT, appStatus %d", resp, panicAppStatus)
			}
			log.wantLogged(t, "level=ERROR", "handler panicked", "req=1", "boom before output")
			cl.send(testRequest{keep: true, body: []byte("alive")}.bytes())
			if got := cl.ok(1); !strings.HasSuffix(got, "alive") {
				t.Errorf("request after panic: stdout = %q", got)
			}

			cl = newClient(t, dial())
			cl.send(testRequest{keep: true, params: []Param{{"PANIC", "after output"}}}.bytes())
			recs := cl.closed()
			if len(recs) != 1 || recs[0].Type != TypeStdout || !strings.HasSuffix(string(recs[0].Content), "partial") {
				t.Errorf("after a panic past output got %s; want the flushed STDOUT and no END_REQUEST", summarize(recs))
			}
			log.wantLogged(t, "closing connection without END_REQUEST", "req=1")

			cl = newClient(t, dial())
			cl.send(testRequest{body: []byte("server up")}.bytes())
			if got := cl.ok(1); !strings.HasSuffix(got, "server up") {
				t.Errorf("new connection after panics: stdout = %q", got)
			}
		})
	}
}

func TestStderr(t *testing.T) {
	long := strings.Repeat("e", 70_000)
	var leaked io.Writer
	s, _ := newTestServer(t, func(w *Response, r *Request) uint32 {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // concurrently with STDOUT
			defer wg.Done()
			for i := range 50 {
				fmt.Fprintf(w.Stderr(), "line %d\n", i)
			}
		}()
		for range 50 {
			w.Write([]byte("out "))
			w.Flush()
		}
		wg.Wait()
		w.Stderr().Write([]byte(long))
		w.Stderr().Write(nil) // no empty record: that would end the stream
		leaked = w.Stderr()
		return 0
	})
	cl := newClient(t, servePipe(t, s)())
	cl.send(testRequest{keep: true}.bytes())
	resp := cl.response(1)
	if got, want := string(resp.stdout), strings.Repeat("out ", 50); got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	if len(resp.stderrRecords) != 52 || !resp.stderrEnded {
		t.Fatalf("%d STDERR records, ended %v; want 52 and ended", len(resp.stderrRecords), resp.stderrEnded)
	}
	for i := range 50 {
		if got, want := resp.stderrRecords[i], fmt.Sprintf("line %d\n", i); got != want {
			t.Errorf("STDERR record %d = %q, want %q", i, got, want)
		}
	}
	if got := resp.stderrRecords[50] + resp.stderrRecords[51]; got != long {
		t.Errorf("long STDERR write came back as %d+%d bytes", len(resp.stderrRecords[50]), len(resp.stderrRecords[51]))
	}
	if _, err := leaked.Write([]byte("late\n")); err != errResponseDone {
		t.Errorf("STDERR write after return: %v, want errResponseDone", err)
	}
}

// TestResponseWrites counts the server's writes: a small response goes out
// in one write with END_REQUEST; a large one in 65,535-byte records.
func TestResponseWrites(t *testing.T) {
	for _, tt := range []struct {
		name       string
		size       int
		flushes    int
		wantWrites int64
	}{
		{"small", 1000, 0, 1},
		{"exactly one record", 65535, 0, 2},
		{"three records and a bit", 3*65535 + 10, 0, 4},
		{"two flushes", 1000, 2, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			payload := randomBody(tt.size)
			s, _ := newTestServer(t, func(w *Response, r *Request) uint32 {
				for i := range tt.flushes {
					fmt.Fprintf(w, "chunk %d\n", i)
					w.Flush()
				}
				for p := payload; len(p) > 0; p = p[min(len(p), 100):] {
					w.Write(p[:min(len(p), 100)])
				}
				return 0
			})
			clConn, sv := net.Pipe()
			counted := &countingConn{Conn: sv}
			done := make(chan struct{})
			go func() {
				defer close(done)
				s.ServeConn(counted)
			}()
			defer func() { clConn.Close(); <-done }()
			cl := newClient(t, clConn)
			cl.send(testRequest{keep: true}.bytes())
			resp := cl.response(1)
			var want bytes.Buffer
			for i := range tt.flushes {
				fmt.Fprintf(&want, "chunk %d\n", i)
			}
			want.Write(payload)
			if !bytes.Equal(resp.stdout, want.Bytes()) {
				t.Errorf("stdout: %d bytes, want %d", len(resp.stdout), want.Len())
			}
			if got := counted.writes.Load(); got != tt.wantWrites {
				t.Errorf("server made %d writes, want %d", got, tt.wantWrites)
			}
		})
	}
}

// TestBackPressure is structural: while the handler has not read, the
// server stops reading the connection, so a client writing a large body
// blocks with no more than one record plus the read buffer in flight.
func TestBackPressure(t *testing.T) {
	const records, recordSize = 200, 8000
	blocked := make(chan struct{}, 1)
	proceed := make(chan struct{})
	var served *countingConn
	var consumed int64
	var bound int64
	s, _ := newTestServer(t, func(w *Response, r *Request) uint32 {
		<-proceed
		buf := make([]byte, 1000)
		for {
			n, err := r.Stdin.Read(buf)
			consumed += int64(n)
			// At every step the server has read at most one record
			// buffer ahead of the handler.
			if ahead := served.readBytes.Load() - consumed; ahead > bound {
				fmt.Fprintf(w, "server read %d bytes ahead of the handler, bound %d\n", ahead, bound)
			}
			if err != nil {
				fmt.Fprintf(w, "consumed=%d err=%v", consumed, err)
				return 0
			}
		}
	})
	s.testHookStdinWait = func() {
		select {
		case blocked <- struct{}{}:
		default:
		}
	}
	clConn, sv := net.Pipe()
	served = &countingConn{Conn: sv}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.ServeConn(served)
	}()
	defer func() { clConn.Close(); <-done }()

	req := testRequest{keep: true, body: randomBody(records * recordSize), chunks: []int{recordSize}}
	head := req.head()
	bound = int64(len(head)) + maxRecordLen
	var written int64 // by the client goroutine, read after clientDone or while it is blocked
	var wmu sync.Mutex
	clientDone := make(chan error, 1)
	go func() {
		stdin := req.stdin()
		_, err := clConn.Write(head)
		for len(stdin) > 0 && err == nil {
			n := min(len(stdin), headerLen+recordSize)
			_, err = clConn.Write(stdin[:n])
			wmu.Lock()
			written += int64(n)
			wmu.Unlock()
			stdin = stdin[n:]
		}
		clientDone <- err
	}()

	<-blocked // the server's reader waits for the handler, which has read nothing
	if got := served.readBytes.Load(); got > bound {
		t.Errorf("server read %d bytes before the handler read any, bound %d", got, bound)
	}
	select {
	case err := <-clientDone:
		t.Fatalf("client wrote the whole %d-byte body (err %v) while the handler read nothing", records*recordSize, err)
	default:
	}
	wmu.Lock()
	if written > bound {
		t.Errorf("client wrote %d bytes while the handler read nothing, bound %d", written, bound)
	}
	wmu.Unlock()

	close(proceed)
	cl := newClient(t, clConn)
	if got, want := cl.ok(1), fmt.Sprintf("consumed=%d err=EOF", records*recordSize); got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	if err := <-clientDone; err != nil {
		t.Fatal(err)
	}
}

func TestShutdown(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	s, _ := newTestServer(t, func(w *Response, r *Request) uint32 {
		if r.Param("BLOCK") != "" {
			close(started)
			<-release
		}
		return echo(w, r)
	})
	path, l := listenUnix(t)
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	dial := func() *client {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return newClient(t, c)
	}

	idle := dial()
	idle.send(testRequest{keep: true}.bytes())
	idle.ok(1)
	busy := dial()
	busy.send(testRequest{keep: true, params: []Param{{"BLOCK", "1"}}}.head())
	<-started

	shutdown := make(chan error, 1)
	go func() { shutdown <- s.Shutdown(context.Background()) }()
	idle.closed() // idle keep-alive connections are closed at once
	if err := <-served; err != ErrServerClosed {
		t.Errorf("Serve = %v, want ErrServerClosed", err)
	}
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		t.Error("Dial after Shutdown succeeded")
	}
	select {
	case err := <-shutdown:
		t.Fatalf("Shutdown returned %v while a request was in flight", err)
	default:
	}

	close(release)
	busy.send(testRequest{keep: true, body: []byte("finished")}.stdin())
	if got := busy.ok(1); !strings.HasSuffix(got, "finished") {
		t.Errorf("in-flight request stdout = %q", got)
	}
	busy.closed() // closed after its request despite KEEP_CONN
	if err := <-shutdown; err != nil {
		t.Errorf("Shutdown = %v", err)
	}
}

func TestShutdownTimeoutThenClose(t *testing.T) {
	started := make(chan struct{})
	readErr := make(chan error, 1)
	s, _ := newTestServer(t, func(w *Response, r *Request) uint32 {
		close(started)
		_, err := io.Copy(io.Discard, r.Stdin)
		readErr <- err
		return 0
	})
	cl := newClient(t, servePipe(t, s)())
	cl.send(testRequest{}.head())
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Shutdown(ctx); err != context.Canceled {
		t.Errorf("Shutdown(canceled) = %v, want context.Canceled", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if err := <-readErr; err != ErrConnClosed {
		t.Errorf("Stdin read after Close: %v, want ErrConnClosed", err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown after Close = %v", err)
	}
}

func TestServeAfterClose(t *testing.T) {
	s, _ := newTestServer(t, echo)
	for range 2 {
		if err := s.Close(); err != nil {
			t.Errorf("Close = %v", err)
		}
	}
	_, l := listenUnix(t)
	if err := s.Serve(l); err != ErrServerClosed {
		t.Errorf("Serve after Close = %v, want ErrServerClosed", err)
	}
	if _, err := l.Accept(); err == nil {
		t.Error("Serve left the listener open")
	}
	clConn, sv := net.Pipe()
	s.ServeConn(sv)
	if _, err := clConn.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("read from a connection served after Close: %v, want io.EOF", err)
	}
}

func TestNilHandler(t *testing.T) {
	var s Server
	_, l := listenUnix(t)
	if err := s.Serve(l); err == nil || !strings.Contains(err.Error(), "Handler is nil") {
		t.Errorf("Serve with nil Handler = %v", err)
	}
}

func TestIdleTimeout(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			s, log := newTestServer(t, echo)
			s.IdleTimeout = 20 * time.Millisecond
			dial := tr.serve(t, s)
			newClient(t, dial()).closed() // no request at all
			cl := newClient(t, dial())
			cl.send(testRequest{keep: true}.bytes())
			cl.ok(1)
			cl.closed() // idle after a request
			log.wantLogged(t, "closing idle connection")
		})
	}
}

func TestRequestParams(t *testing.T) {
	r := &Request{Params: []Param{{"A", "1"}, {"EMPTY", ""}, {"A", "2"}}}
	for _, tt := range []struct {
		name  string
		value string
		ok    bool
	}{{"A", "1", true}, {"EMPTY", "", true}, {"MISSING", "", false}} {
		if v, ok := r.LookupParam(tt.name); v != tt.value || ok != tt.ok {
			t.Errorf("LookupParam(%q) = %q, %v; want %q, %v", tt.name, v, ok, tt.value, tt.ok)
		}
		if v := r.Param(tt.name); v != tt.value {
			t.Errorf("Param(%q) = %q, want %q", tt.name, v, tt.value)
		}
	}
}

// discardConn is a connection whose writes go nowhere.
type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error) { return len(p), nil }

// TestResponseAllocs counts allocations on the response write path: none.
func TestResponseAllocs(t *testing.T) {
	s := &Server{Handler: HandlerFunc(echo)}
	c := newConn(s, discardConn{})
	w := &Response{c: c, id: 1}
	w.stderr.w = w
	line := []byte("Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nhello\n")
	big := make([]byte, 100_000)
	for _, tt := range []struct {
		name string
		f    func()
	}{
		{"Write+Flush", func() { w.Write(line); w.Flush() }},
		{"Write large", func() { w.Write(big) }},
		{"Stderr", func() { w.Stderr().Write(line) }},
	} {
		if allocs := testing.AllocsPerRun(100, tt.f); allocs != 0 {
			t.Errorf("%s: %v allocs, want 0", tt.name, allocs)
		}
	}
	if err := w.finish(0, false); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(line); err != errResponseDone {
		t.Errorf("Write after finish: %v, want errResponseDone", err)
	}
}

// gatedConn reads from a pipe; its writes go to out, each once gate is
// open, and fail after Close.
type gatedConn struct {
	net.Conn
	once    sync.Once
	writing chan struct{} // closed at the first Write
	gate    chan struct{}
	mu      sync.Mutex
	closed  bool
	out     bytes.Buffer
}

func (c *gatedConn) Write(p []byte) (int, error) {
	c.once.Do(func() { close(c.writing) })
	<-c.gate
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	return c.out.Write(p)
}

func (c *gatedConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return c.Conn.Close()
}

// TestEndRequestNotCutByClose is a regression test: without KEEP_CONN the
// serve goroutine closed the connection at the empty STDIN record while the
// handler goroutine was still writing END_REQUEST, so the web server got no
// END_REQUEST.
func TestEndRequestNotCutByClose(t *testing.T) {
	s, log := newTestServer(t, func(w *Response, r *Request) uint32 { return 0 })
	clConn, sv := net.Pipe()
	gc := &gatedConn{Conn: sv, writing: make(chan struct{}), gate: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.ServeConn(gc)
	}()
	defer clConn.Close()
	cl := newClient(t, clConn)
	cl.send(AppendRecord(testRequest{}.head(), TypeStdin, 1, []byte("unread")))
	<-gc.writing // the handler returned; END_REQUEST waits at the gate
	cl.send(AppendRecord(nil, TypeStdin, 1, nil))
	log.waitFor("closing connection at the end of a request")
	close(gc.gate)
	<-done
	recs, err := readAll(NewRecordReader(&gc.out))
	if err != io.EOF || len(recs) == 0 || recs[len(recs)-1].Type != TypeEndRequest {
		t.Errorf("server wrote %s(err %v); want a response ending in END_REQUEST", summarize(recs), err)
	}
}
