package fcgi

import (
	"bytes"
	"errors"
	"io"
	"net"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// FuzzRecordStream feeds arbitrary bytes to the record reader, the
// name-value pair decoder and a whole server connection. Properties: no
// panic; bounded buffers; agreement with the naive decoders below; for
// params, encode(decode(x)) == x when x uses the shortest lengths; and the
// server never ends a request twice.
func FuzzRecordStream(f *testing.F) {
	for _, tt := range recordTests {
		f.Add(tt.raw)
	}
	for _, tt := range paramsTests {
		f.Add(tt.raw)
		f.Add(cat(AppendBeginRequest(nil, 1, RoleResponder, true), AppendRecord(nil, TypeParams, 1, tt.raw), AppendRecord(nil, TypeParams, 1, nil)))
	}
	f.Add(testRequest{params: benchParams, body: []byte("body"), chunks: []int{1, 2}}.bytes())
	f.Add(cat(testRequest{keep: true, body: []byte("one")}.bytes(), testRequest{role: RoleAuthorizer, noStdin: true}.bytes()))
	f.Add(cat(testRequest{keep: true}.head(), testRequest{id: 2}.bytes(), AppendRecord(nil, TypeAbortRequest, 1, nil)))
	f.Add(cat(AppendRecord(nil, TypeGetValues, 0, AppendParams(nil, []Param{{"FCGI_MAX_CONNS", ""}})), AppendRecord(nil, 99, 0, nil)))

	f.Fuzz(func(t *testing.T, data []byte) {
		recs := checkRecords(t, data)
		checkParams(t, data)
		params := map[uint16][]byte{}
		for _, r := range recs {
			if r.typ == TypeParams {
				checkParams(t, r.content)
				params[r.id] = append(params[r.id], r.content...)
			}
		}
		for _, p := range params {
			checkParams(t, p)
		}
		checkServer(t, data, recs)
	})
}

// naiveRecord is a record as decoded by naiveRecords.
type naiveRecord struct {
	version, padding int
	typ              RecType
	id               uint16
	content          []byte
}

// naiveRecords decodes a record stream the obvious way, independently of
// RecordReader: whole records from a slice, fields by arithmetic. It returns
// the records and why it stopped: "" at the end of data, "truncated", or
// "version".
func naiveRecords(data []byte) ([]naiveRecord, string) {
	var recs []naiveRecord
	for len(data) > 0 {
		if len(data) < 8 {
			return recs, "truncated"
		}
		r := naiveRecord{
			version: int(data[0]),
			typ:     RecType(data[1]),
			id:      uint16(data[2])*256 + uint16(data[3]),
			padding: int(data[6]),
		}
		n := int(data[4])*256 + int(data[5])
		if r.version != 1 {
			return recs, "version"
		}
		if len(data) < 8+n+r.padding {
			return recs, "truncated"
		}
		r.content = data[8 : 8+n]
		recs = append(recs, r)
		data = data[8+n+r.padding:]
	}
	return recs, ""
}

// naiveParams decodes name-value pairs the obvious way, independently of
// ParseParams. canonical reports whether every length used its shortest
// form.
func naiveParams(b []byte) (ps []Param, ok, canonical bool) {
	canonical = true
	for len(b) > 0 {
		var lens [2]int
		for i := range lens {
			switch {
			case len(b) == 0:
				return nil, false, false
			case b[0] < 128:
				lens[i] = int(b[0])
				b = b[1:]
			case len(b) < 4:
				return nil, false, false
			default:
				lens[i] = int(b[0]-128)<<24 + int(b[1])<<16 + int(b[2])<<8 + int(b[3])
				canonical = canonical && lens[i] >= 128
				b = b[4:]
			}
		}
		if lens[0] > len(b) || lens[1] > len(b)-lens[0] {
			return nil, false, false
		}
		ps = append(ps, Param{string(b[:lens[0]]), string(b[lens[0] : lens[0]+lens[1]])})
		b = b[lens[0]+lens[1]:]
	}
	return ps, true, canonical
}

func checkRecords(t *testing.T, data []byte) []naiveRecord {
	want, why := naiveRecords(data)
	for _, rd := range readers {
		rr := NewRecordReader(rd.wrap(bytes.NewReader(data)))
		got, err := readAll(rr)
		if len(got) != len(want) {
			t.Fatalf("%s: RecordReader read %d records, naive decoder %d", rd.name, len(got), len(want))
		}
		for i, g := range got {
			w := want[i]
			if int(g.Version) != w.version || g.Type != w.typ || g.ID != w.id || int(g.PaddingLength) != w.padding ||
				int(g.ContentLength) != len(w.content) || !bytes.Equal(g.Content, w.content) {
				t.Fatalf("%s: record %d: RecordReader %+v, naive %+v", rd.name, i, g.Header, w)
			}
		}
		var pe *ProtocolError
		switch why {
		case "":
			if err != io.EOF {
				t.Fatalf("%s: RecordReader ended with %v, naive decoder at a clean end", rd.name, err)
			}
		case "truncated":
			if !errors.As(err, &pe) || !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("%s: RecordReader ended with %v, naive decoder on a truncated record", rd.name, err)
			}
		case "version":
			if !errors.As(err, &pe) || errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("%s: RecordReader ended with %v, naive decoder on a bad version", rd.name, err)
			}
		}
		if cap(rr.buf) > maxRecordLen {
			t.Fatalf("%s: RecordReader buffer grew to %d bytes", rd.name, cap(rr.buf))
		}
	}
	return want
}

func checkParams(t *testing.T, b []byte) {
	got, err := ParseParams(b, nil)
	want, ok, canonical := naiveParams(b)
	if (err == nil) != ok {
		t.Fatalf("ParseParams(% x): err %v; naive decoder ok %v", head(b), err, ok)
	}
	if !ok {
		var pe *ProtocolError
		if !errors.As(err, &pe) || got != nil {
			t.Fatalf("ParseParams(% x) = %v, %v; want nil, *ProtocolError", head(b), got, err)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseParams(% x) = %q, naive %q", head(b), got, want)
	}
	if len(got) > len(b)/2 {
		t.Fatalf("ParseParams(%d bytes) returned %d params", len(b), len(got))
	}
	enc := AppendParams(nil, got)
	if canonical && !bytes.Equal(enc, b) {
		t.Fatalf("AppendParams(ParseParams(% x)) = % x", head(b), head(enc))
	}
	again, err := ParseParams(enc, nil)
	if err != nil || !reflect.DeepEqual(again, got) {
		t.Fatalf("ParseParams(AppendParams(%q)) = %q, %v", got, again, err)
	}
}

// checkServer serves data as one connection. The server must not panic or
// hang, must write well-formed records of the types an application sends,
// and must end no request more often than it was begun.
func checkServer(t *testing.T, data []byte, in []naiveRecord) {
	s := &Server{
		Handler: HandlerFunc(func(w *Response, r *Request) uint32 {
			n, _ := io.Copy(io.Discard, r.Stdin)
			w.Write([]byte("Status: 200 OK\r\n\r\n"))
			w.Write(make([]byte, n%100))
			w.Stderr().Write([]byte("line\n"))
			return 0
		}),
		MaxParamsBytes: 4096,
		maxDrainBytes:  1 << 20,
	}
	c := &fuzzConn{r: bytes.NewReader(data)}
	s.ServeConn(c)

	begun := map[uint16]int{}
	for _, r := range in {
		if r.typ == TypeBeginRequest {
			begun[r.id]++
		}
	}
	out, err := readAll(NewRecordReader(bytes.NewReader(c.out.Bytes())))
	if err != io.EOF {
		t.Fatalf("server wrote a malformed stream: %v", err)
	}
	ended := map[uint16]int{}
	for _, r := range out {
		switch r.Type {
		case TypeEndRequest:
			ended[r.ID]++
			if ended[r.ID] > begun[r.ID] {
				t.Fatalf("request %d ended %d times, begun %d times", r.ID, ended[r.ID], begun[r.ID])
			}
		case TypeStdout, TypeStderr:
			if begun[r.ID] == 0 {
				t.Fatalf("%v for request %d, never begun", r.Type, r.ID)
			}
		case TypeGetValuesResult, TypeUnknownType:
			if r.ID != 0 {
				t.Fatalf("%v with request id %d", r.Type, r.ID)
			}
		default:
			t.Fatalf("server wrote a %v record", r.Type)
		}
	}
}

// fuzzConn is a connection that reads from r, then reports EOF, and keeps
// what is written.
type fuzzConn struct {
	r      io.Reader
	closed atomic.Bool
	mu     sync.Mutex
	out    bytes.Buffer
}

func (c *fuzzConn) Read(p []byte) (int, error) {
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	return c.r.Read(p)
}

func (c *fuzzConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	return c.out.Write(p)
}

func (c *fuzzConn) Close() error                     { c.closed.Store(true); return nil }
func (c *fuzzConn) LocalAddr() net.Addr              { return nil }
func (c *fuzzConn) RemoteAddr() net.Addr             { return nil }
func (c *fuzzConn) SetDeadline(time.Time) error      { return nil }
func (c *fuzzConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fuzzConn) SetWriteDeadline(time.Time) error { return nil }
