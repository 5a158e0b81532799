package fcgi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// cat joins byte slices, for byte tables with long runs.
func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// recordTests are records as bytes on the wire, each field commented, with
// what RecordReader returns for them and, for the canonical ones, the
// encoder call that writes them. They also seed FuzzRecordStream.
var recordTests = []struct {
	name  string
	raw   []byte
	recs  []Record
	err   string                // error after recs; "" means a clean io.EOF
	write func(b []byte) []byte // nil: not canonical (padding), read only
}{
	{
		name: "begin request responder keep-conn",
		raw: []byte{
			1,    // version
			1,    // type BEGIN_REQUEST
			0, 1, // request id 1
			0, 8, // content length 8
			0,    // padding length
			0,    // reserved
			0, 1, // role RESPONDER
			1,             // flags KEEP_CONN
			0, 0, 0, 0, 0, // reserved
		},
		recs:  []Record{{Header{1, TypeBeginRequest, 1, 8, 0}, []byte{0, 1, 1, 0, 0, 0, 0, 0}}},
		write: func(b []byte) []byte { return AppendBeginRequest(b, 1, RoleResponder, true) },
	},
	{
		name: "begin request authorizer id 258",
		raw: []byte{
			1,    // version
			1,    // type BEGIN_REQUEST
			1, 2, // request id 258
			0, 8, // content length 8
			0,    // padding length
			0,    // reserved
			0, 2, // role AUTHORIZER
			0,             // flags: none
			0, 0, 0, 0, 0, // reserved
		},
		recs:  []Record{{Header{1, TypeBeginRequest, 258, 8, 0}, []byte{0, 2, 0, 0, 0, 0, 0, 0}}},
		write: func(b []byte) []byte { return AppendBeginRequest(b, 258, RoleAuthorizer, false) },
	},
	{
		name: "params one pair",
		raw: cat(
			[]byte{
				1,    // version
				4,    // type PARAMS
				0, 1, // request id 1
				0, 15, // content length 15
				1,  // padding length 1
				0,  // reserved
				11, // name length 11
				2,  // value length 2
			},
			[]byte("SCRIPT_NAME"), // name
			[]byte("/x"),          // value
			[]byte{0},             // padding
		),
		recs: []Record{{Header{1, TypeParams, 1, 15, 1}, cat([]byte{11, 2}, []byte("SCRIPT_NAME/x"))}},
		write: func(b []byte) []byte {
			return AppendRecord(b, TypeParams, 1, AppendParams(nil, []Param{{"SCRIPT_NAME", "/x"}}))
		},
	},
	{
		name: "end of params",
		raw: []byte{
			1,    // version
			4,    // type PARAMS
			0, 1, // request id 1
			0, 0, // content length 0: end of stream
			0, // padding length
			0, // reserved
		},
		recs:  []Record{{Header{1, TypeParams, 1, 0, 0}, []byte{}}},
		write: func(b []byte) []byte { return AppendRecord(b, TypeParams, 1, nil) },
	},
	{
		name: "stdin then end of stdin",
		raw: []byte{
			1,    // version
			5,    // type STDIN
			0, 1, // request id 1
			0, 5, // content length 5
			3,                       // padding length 3
			0,                       // reserved
			'h', 'e', 'l', 'l', 'o', // content
			0, 0, 0, // padding
			1,    // version
			5,    // type STDIN
			0, 1, // request id 1
			0, 0, // content length 0: end of stream
			0, // padding length
			0, // reserved
		},
		recs: []Record{
			{Header{1, TypeStdin, 1, 5, 3}, []byte("hello")},
			{Header{1, TypeStdin, 1, 0, 0}, []byte{}},
		},
		write: func(b []byte) []byte {
			return AppendRecord(AppendRecord(b, TypeStdin, 1, []byte("hello")), TypeStdin, 1, nil)
		},
	},
	{
		name: "stdout 70000 bytes in two records",
		raw: cat(
			[]byte{
				1,    // version
				6,    // type STDOUT
				0, 1, // request id 1
				0xff, 0xff, // content length 65535
				1, // padding length 1
				0, // reserved
			},
			bytes.Repeat([]byte{'a'}, 65535), // content
			[]byte{0},                        // padding
			[]byte{
				1,    // version
				6,    // type STDOUT
				0, 1, // request id 1
				0x11, 0x71, // content length 4465
				7, // padding length 7
				0, // reserved
			},
			bytes.Repeat([]byte{'a'}, 4465), // content
			make([]byte, 7),                 // padding
		),
		recs: []Record{
			{Header{1, TypeStdout, 1, 65535, 1}, bytes.Repeat([]byte{'a'}, 65535)},
			{Header{1, TypeStdout, 1, 4465, 7}, bytes.Repeat([]byte{'a'}, 4465)},
		},
		write: func(b []byte) []byte { return AppendRecord(b, TypeStdout, 1, bytes.Repeat([]byte{'a'}, 70000)) },
	},
	{
		name: "end request",
		raw: []byte{
			1,    // version
			3,    // type END_REQUEST
			0, 1, // request id 1
			0, 8, // content length 8
			0,          // padding length
			0,          // reserved
			1, 2, 3, 4, // appStatus 0x01020304
			1,       // protocolStatus FCGI_CANT_MPX_CONN
			0, 0, 0, // reserved
		},
		recs:  []Record{{Header{1, TypeEndRequest, 1, 8, 0}, []byte{1, 2, 3, 4, 1, 0, 0, 0}}},
		write: func(b []byte) []byte { return AppendEndRequest(b, 1, 0x01020304, StatusCantMpxConn) },
	},
	{
		name: "get values",
		raw: []byte{
			1,    // version
			9,    // type GET_VALUES
			0, 0, // request id 0: management
			0, 33, // content length 33
			7,     // padding length 7
			0,     // reserved
			14, 0, // name length 14, value length 0
			'F', 'C', 'G', 'I', '_', 'M', 'A', 'X', '_', 'C', 'O', 'N', 'N', 'S',
			15, 0, // name length 15, value length 0
			'F', 'C', 'G', 'I', '_', 'M', 'P', 'X', 'S', '_', 'C', 'O', 'N', 'N', 'S',
			0, 0, 0, 0, 0, 0, 0, // padding
		},
		recs: []Record{{Header{1, TypeGetValues, 0, 33, 7},
			cat([]byte{14, 0}, []byte("FCGI_MAX_CONNS"), []byte{15, 0}, []byte("FCGI_MPXS_CONNS"))}},
		write: func(b []byte) []byte {
			return AppendRecord(b, TypeGetValues, 0, AppendParams(nil, []Param{{"FCGI_MAX_CONNS", ""}, {"FCGI_MPXS_CONNS", ""}}))
		},
	},
	{
		name: "unknown type",
		raw: []byte{
			1,    // version
			11,   // type UNKNOWN_TYPE
			0, 0, // request id 0
			0, 8, // content length 8
			0,                   // padding length
			0,                   // reserved
			42,                  // the type not understood
			0, 0, 0, 0, 0, 0, 0, // reserved
		},
		recs:  []Record{{Header{1, TypeUnknownType, 0, 8, 0}, []byte{42, 0, 0, 0, 0, 0, 0, 0}}},
		write: func(b []byte) []byte { return appendUnknownType(b, 42) },
	},
	{
		name: "no padding where 8-byte alignment wants some",
		raw: []byte{
			1,    // version
			5,    // type STDIN
			0, 1, // request id 1
			0, 3, // content length 3
			0,             // padding length 0 (alignment is only recommended, spec §3.3)
			0,             // reserved
			'a', 'b', 'c', // content
		},
		recs: []Record{{Header{1, TypeStdin, 1, 3, 0}, []byte("abc")}},
	},
	{
		name: "maximal padding, reserved byte set",
		raw: cat(
			[]byte{
				1,    // version
				5,    // type STDIN
				0, 1, // request id 1
				0, 1, // content length 1
				255, // padding length 255
				9,   // reserved, ignored
				'z', // content
			},
			bytes.Repeat([]byte{0xee}, 255), // padding, ignored
		),
		recs: []Record{{Header{1, TypeStdin, 1, 1, 255}, []byte("z")}},
	},
	{
		name: "version 2",
		raw: []byte{
			2,    // version 2: not FastCGI 1.0
			1,    // type BEGIN_REQUEST
			0, 1, // request id 1
			0, 8, // content length 8
			0, // padding length
			0, // reserved
			0, 1, 0, 0, 0, 0, 0, 0,
		},
		err: "fcgi: request 1: begin request: record version 2, want 1",
	},
	{
		name: "http request instead of fastcgi",
		raw:  []byte("GET / HTTP/1.1\r\n\r\n"),
		err:  "fcgi: request 21536: record type 69: record version 71, want 1", /* "GET / HTTP": version 'G', type 'E', id "T " */
	},
	{
		name: "header truncated",
		raw: []byte{
			1, // version
			5, // type STDIN
			0, // request id, first byte only
		},
		err: "fcgi: record header truncated after 3 bytes: unexpected EOF",
	},
	{
		name: "content truncated",
		raw: []byte{
			1,    // version
			5,    // type STDIN
			0, 1, // request id 1
			0, 8, // content length 8
			0,             // padding length
			0,             // reserved
			'a', 'b', 'c', // 3 of 8 content bytes
		},
		err: "fcgi: request 1: stdin: record truncated: content length 8, padding length 0, got 3 bytes: unexpected EOF",
	},
	{
		name: "padding truncated after a good record",
		raw: []byte{
			1,    // version
			4,    // type PARAMS
			0, 1, // request id 1
			0, 0, // content length 0
			0,    // padding length
			0,    // reserved
			1,    // version
			5,    // type STDIN
			0, 1, // request id 1
			0, 1, // content length 1
			7,    // padding length 7
			0,    // reserved
			'x',  // content
			0, 0, // 2 of 7 padding bytes
		},
		recs: []Record{{Header{1, TypeParams, 1, 0, 0}, []byte{}}},
		err:  "fcgi: request 1: stdin: record truncated: content length 1, padding length 7, got 3 bytes: unexpected EOF",
	},
}

// readers are the chunkings every reader test runs through.
var readers = []struct {
	name string
	wrap func(io.Reader) io.Reader
}{
	{"whole", func(r io.Reader) io.Reader { return r }},
	{"OneByteReader", iotest.OneByteReader},
	{"HalfReader", iotest.HalfReader},
	{"DataErrReader", iotest.DataErrReader},
}

// readAll reads records until an error, copying their contents.
func readAll(rr *RecordReader) ([]Record, error) {
	var recs []Record
	for {
		rec, err := rr.Read()
		if err != nil {
			return recs, err
		}
		recs = append(recs, Record{rec.Header, bytes.Clone(rec.Content)})
	}
}

func TestRecordBytes(t *testing.T) {
	for _, tt := range recordTests {
		for _, rd := range readers {
			t.Run(tt.name+"/"+rd.name, func(t *testing.T) {
				recs, err := readAll(NewRecordReader(rd.wrap(bytes.NewReader(tt.raw))))
				if !recordsEqual(recs, tt.recs) {
					t.Errorf("Read(% x...) records =\n%v\nwant\n%v", head(tt.raw), summarize(recs), summarize(tt.recs))
				}
				if tt.err == "" {
					if err != io.EOF {
						t.Errorf("Read after last record: err = %v, want io.EOF", err)
					}
					return
				}
				var pe *ProtocolError
				if !errors.As(err, &pe) || err.Error() != tt.err {
					t.Errorf("Read: err = %v (%T), want *ProtocolError %q", err, err, tt.err)
				}
			})
		}
		if tt.write != nil {
			t.Run(tt.name+"/write", func(t *testing.T) {
				prefix := []byte("prefix")
				got := tt.write(bytes.Clone(prefix))
				if !bytes.Equal(got, cat(prefix, tt.raw)) {
					t.Errorf("encoder wrote\n% x\nwant\n% x", head(got[len(prefix):]), head(tt.raw))
				}
			})
		}
	}
}

func head(b []byte) []byte { return b[:min(len(b), 64)] }

func recordsEqual(a, b []Record) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Header != b[i].Header || !bytes.Equal(a[i].Content, b[i].Content) {
			return false
		}
	}
	return true
}

func summarize(recs []Record) string {
	var sb strings.Builder
	for _, r := range recs {
		fmt.Fprintf(&sb, "  %+v content % x\n", r.Header, head(r.Content))
	}
	return sb.String()
}

// paramsTests are PARAMS contents, each field commented. They also seed
// FuzzRecordStream.
var paramsTests = []struct {
	name         string
	raw          []byte
	params       []Param
	err          string
	nonCanonical bool // decodes, but AppendParams writes it differently
}{
	{name: "empty", raw: []byte{}, params: nil},
	{
		name: "two pairs",
		raw: cat(
			[]byte{14, 3}, // name length 14, value length 3
			[]byte("REQUEST_METHOD"), []byte("GET"),
			[]byte{12, 0}, // name length 12, value length 0
			[]byte("QUERY_STRING"),
		),
		params: []Param{{"REQUEST_METHOD", "GET"}, {"QUERY_STRING", ""}},
	},
	{
		name: "duplicates kept in order",
		raw: cat(
			[]byte{1, 1}, []byte("Ab"), // A=b
			[]byte{1, 1}, []byte("Bc"), // B=c
			[]byte{1, 1}, []byte("Ad"), // A=d
		),
		params: []Param{{"A", "b"}, {"B", "c"}, {"A", "d"}},
	},
	{
		name:   "empty name and value",
		raw:    []byte{0, 0}, // name length 0, value length 0
		params: []Param{{"", ""}},
	},
	{
		name: "value of 127 bytes: largest 1-byte length",
		raw: cat(
			[]byte{1, 127}, // name length 1, value length 127
			[]byte("V"), bytes.Repeat([]byte("v"), 127),
		),
		params: []Param{{"V", strings.Repeat("v", 127)}},
	},
	{
		name: "value of 128 bytes: 4-byte length",
		raw: cat(
			[]byte{1},               // name length 1
			[]byte{0x80, 0, 0, 128}, // value length 128, top bit set
			[]byte("V"), bytes.Repeat([]byte("v"), 128),
		),
		params: []Param{{"V", strings.Repeat("v", 128)}},
	},
	{
		name: "name of 300 bytes",
		raw: cat(
			[]byte{0x80, 0, 1, 0x2c}, // name length 300
			[]byte{1},                // value length 1
			bytes.Repeat([]byte("N"), 300), []byte("v"),
		),
		params: []Param{{strings.Repeat("N", 300), "v"}},
	},
	{
		name: "4-byte form of a short length",
		raw: cat(
			[]byte{0x80, 0, 0, 1}, // name length 1, in the long form
			[]byte{1},             // value length 1
			[]byte("Nv"),
		),
		params:       []Param{{"N", "v"}},
		nonCanonical: true,
	},
	{
		name: "value length past the end",
		raw: cat(
			[]byte{4, 6}, []byte("NAMEVALUE1"), // a good pair, 12 bytes
			[]byte{1},                     // name length 1, at offset 12
			[]byte{0x80, 0, 1, 0x2c},      // value length 300
			[]byte("X"),                   // name
			bytes.Repeat([]byte("v"), 20), // only 20 bytes of value
		),
		err: "fcgi: params: name-value pair at offset 12: value length 300 exceeds remaining 20 bytes",
	},
	{
		name: "name length past the end",
		raw:  []byte{10, 0, 'a', 'b'}, // name length 10, value length 0, 2 bytes
		err:  "fcgi: params: name-value pair at offset 0: name length 10 exceeds remaining 2 bytes",
	},
	{
		name: "largest length",
		raw:  []byte{0xff, 0xff, 0xff, 0xff, 0}, // name length 2^31-1, value length 0
		err:  "fcgi: params: name-value pair at offset 0: name length 2147483647 exceeds remaining 0 bytes",
	},
	{
		name: "value length missing",
		raw:  []byte{3}, // name length 3, then nothing
		err:  "fcgi: params: name-value pair at offset 0: value length missing",
	},
	{
		name: "4-byte name length truncated",
		raw:  cat([]byte{0, 0}, []byte{0x80, 0}), // a good empty pair, then 2 of 4 length bytes
		err:  "fcgi: params: name-value pair at offset 2: 4-byte name length truncated to 2 bytes",
	},
	{
		name: "4-byte value length truncated",
		raw:  []byte{1, 0x80, 0, 0}, // name length 1, 3 of 4 value length bytes
		err:  "fcgi: params: name-value pair at offset 0: 4-byte value length truncated to 3 bytes",
	},
}

func TestParamsBytes(t *testing.T) {
	for _, tt := range paramsTests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []Param{{"KEEP", "me"}}
			got, err := ParseParams(tt.raw, dst)
			if tt.err != "" {
				var pe *ProtocolError
				if !errors.As(err, &pe) || err.Error() != tt.err {
					t.Fatalf("ParseParams(% x) err = %v, want *ProtocolError %q", head(tt.raw), err, tt.err)
				}
				if len(got) != 1 || got[0] != dst[0] {
					t.Errorf("ParseParams(% x) on error returned %v, want dst unchanged", head(tt.raw), got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseParams(% x) err = %v", head(tt.raw), err)
			}
			if want := append([]Param{{"KEEP", "me"}}, tt.params...); !reflect.DeepEqual(got, want) {
				t.Errorf("ParseParams(% x) = %q, want %q", head(tt.raw), got, want)
			}
			enc := AppendParams(nil, tt.params)
			if tt.nonCanonical == bytes.Equal(enc, tt.raw) {
				t.Errorf("AppendParams(%q) = % x, raw % x, nonCanonical %v", tt.params, head(enc), head(tt.raw), tt.nonCanonical)
			}
		})
	}
}

func TestParseBeginRequest(t *testing.T) {
	for _, tt := range []struct {
		content []byte
		role    Role
		keep    bool
		err     string
	}{
		{[]byte{0, 1, 1, 0, 0, 0, 0, 0}, RoleResponder, true, ""},
		{[]byte{0, 2, 0, 0, 0, 0, 0, 0}, RoleAuthorizer, false, ""},
		{[]byte{0x12, 0x34, 0xfe, 1, 2, 3, 4, 5}, 0x1234, false, ""}, // reserved flags ignored
		{[]byte{0, 1, 1, 0, 0, 0, 0}, 0, false, "fcgi: begin request: content length 7, want 8"},
		{nil, 0, false, "fcgi: begin request: content length 0, want 8"},
	} {
		role, keep, err := ParseBeginRequest(tt.content)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("ParseBeginRequest(% x) err = %v, want %q", tt.content, err, tt.err)
			}
			continue
		}
		if err != nil || role != tt.role || keep != tt.keep {
			t.Errorf("ParseBeginRequest(% x) = %v, %v, %v; want %v, %v, nil", tt.content, role, keep, err, tt.role, tt.keep)
		}
	}
}

func TestNames(t *testing.T) {
	for _, tt := range []struct {
		got, want string
	}{
		{RoleResponder.String(), "RESPONDER"},
		{RoleAuthorizer.String(), "AUTHORIZER"},
		{RoleFilter.String(), "FILTER"},
		{Role(7).String(), "Role(7)"},
		{TypeBeginRequest.String(), "FCGI_BEGIN_REQUEST"},
		{TypeUnknownType.String(), "FCGI_UNKNOWN_TYPE"},
		{RecType(0).String(), "RecType(0)"},
		{RecType(42).String(), "RecType(42)"},
	} {
		if tt.got != tt.want {
			t.Errorf("String() = %q, want %q", tt.got, tt.want)
		}
	}
}

func TestAppendParamsPanicsOnHugeLength(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("appendPairLen(1<<31) did not panic")
		}
	}()
	appendPairLen(nil, 1<<31)
}

// TestRecordReaderBuffer checks that the buffer stays small for small
// records and never grows past one maximal record.
func TestRecordReaderBuffer(t *testing.T) {
	var small []byte
	for range 100 {
		small = AppendRecord(small, TypeStdin, 1, []byte("0123456789"))
	}
	rr := NewRecordReader(bytes.NewReader(small))
	if _, err := readAll(rr); err != io.EOF {
		t.Fatalf("readAll: %v", err)
	}
	if cap(rr.buf) > initialReadBuf {
		t.Errorf("buffer after small records = %d bytes, want <= %d", cap(rr.buf), initialReadBuf)
	}
	var big []byte
	for i := range 20 {
		big = AppendRecord(big, TypeStdin, 1, make([]byte, 65535-i*1000))
	}
	rr = NewRecordReader(bytes.NewReader(big))
	if _, err := readAll(rr); err != io.EOF {
		t.Fatalf("readAll: %v", err)
	}
	if cap(rr.buf) > maxRecordLen {
		t.Errorf("buffer after big records = %d bytes, want <= %d", cap(rr.buf), maxRecordLen)
	}
}

// TestRecordReaderAllocs counts allocations on the record read path: none
// once the buffer has grown.
func TestRecordReaderAllocs(t *testing.T) {
	var stream []byte
	stream = AppendBeginRequest(stream, 1, RoleResponder, true)
	stream = AppendRecord(stream, TypeParams, 1, AppendParams(nil, []Param{{"REQUEST_METHOD", "GET"}}))
	stream = AppendRecord(stream, TypeParams, 1, nil)
	stream = AppendRecord(stream, TypeStdin, 1, make([]byte, 8000))
	stream = AppendRecord(stream, TypeStdin, 1, nil)
	src := bytes.NewReader(stream)
	rr := NewRecordReader(src)
	allocs := testing.AllocsPerRun(100, func() {
		src.Reset(stream)
		for {
			if _, err := rr.Read(); err != nil {
				if err != io.EOF {
					t.Fatal(err)
				}
				return
			}
		}
	})
	if allocs != 0 {
		t.Errorf("RecordReader.Read: %v allocs per stream, want 0", allocs)
	}
}

func TestParseParamsAllocs(t *testing.T) {
	raw := AppendParams(nil, benchParams)
	dst := make([]Param, 0, len(benchParams))
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := ParseParams(raw, dst[:0]); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 1 { // the one string all names and values share
		t.Errorf("ParseParams: %v allocs, want 1", allocs)
	}
}
