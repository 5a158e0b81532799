package fcgi

// This file is the FastCGI 1.0 wire format: record framing, the name-value
// pair encoding and the fixed-size record bodies, with their limits. It knows
// nothing about connections or requests (conn.go) or servers (server.go).
//
// Spec: https://fast-cgi.github.io/spec (FastCGI Specification 1.0, Open Market,
// 1996): §3.3 records, §3.4 name-value pairs, §4 management records, §5
// application records, §8 types and constants.
//
// A record:
//
//	| version (1) | type (1) | request id (2) | content length (2) | padding length (1) | reserved (1) |
//	| content (content length bytes) | padding (padding length bytes, ignored) |
//
// Message flow of one request as Apache sends it (">" web server to
// application, "<" application to web server; fastcgi-apache.md §0, §2.2):
//
//	> BEGIN_REQUEST id=1                  role, flags (KEEP_CONN only with enablereuse=on)
//	> PARAMS id=1 ... > PARAMS id=1 ""    name-value pairs in any number of records; empty = end
//	> STDIN id=1 ... > STDIN id=1 ""      request body in arbitrary record sizes; AUTHORIZER: none at all
//	< STDOUT id=1 ... < STDOUT id=1 ""    response, CGI style (headers, blank line, body)
//	< STDERR id=1 ... < STDERR id=1 ""    only when the application wrote to stderr
//	< END_REQUEST id=1                    appStatus, protocolStatus
//	  then, with KEEP_CONN, the next BEGIN_REQUEST (id 1 again); without, the application closes.
//	> GET_VALUES id=0  < GET_VALUES_RESULT id=0   management query, at any time (Apache never sends it)
//	> (unknown) id=0   < UNKNOWN_TYPE id=0
//
// Content per type:
//
//	BEGIN_REQUEST      role (2) | flags (1) | reserved (5)
//	ABORT_REQUEST      empty
//	END_REQUEST        appStatus (4) | protocolStatus (1) | reserved (3)
//	PARAMS             stream of name-value pairs; a pair may straddle records
//	STDIN              stream of request body bytes
//	STDOUT, STDERR     streams of response bytes
//	DATA               stream of filter data (FILTER role, never sent by Apache)
//	GET_VALUES         name-value pairs with empty values: the names asked for
//	GET_VALUES_RESULT  name-value pairs: the names understood, with their values
//	UNKNOWN_TYPE       type (1) | reserved (7)
//
// A name-value pair is nameLength, valueLength, name, value. Each length is
// one byte (0-127) or four bytes big-endian with the top bit set (0-2^31-1).

import (
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
)

// RecType is the type of a record (spec §8).
type RecType uint8

// Record types, spec §8 (FCGI_BEGIN_REQUEST ... FCGI_UNKNOWN_TYPE).
const (
	TypeBeginRequest    RecType = 1
	TypeAbortRequest    RecType = 2
	TypeEndRequest      RecType = 3
	TypeParams          RecType = 4
	TypeStdin           RecType = 5
	TypeStdout          RecType = 6
	TypeStderr          RecType = 7
	TypeData            RecType = 8
	TypeGetValues       RecType = 9
	TypeGetValuesResult RecType = 10
	TypeUnknownType     RecType = 11
)

var recTypeNames = [...]string{
	TypeBeginRequest:    "FCGI_BEGIN_REQUEST",
	TypeAbortRequest:    "FCGI_ABORT_REQUEST",
	TypeEndRequest:      "FCGI_END_REQUEST",
	TypeParams:          "FCGI_PARAMS",
	TypeStdin:           "FCGI_STDIN",
	TypeStdout:          "FCGI_STDOUT",
	TypeStderr:          "FCGI_STDERR",
	TypeData:            "FCGI_DATA",
	TypeGetValues:       "FCGI_GET_VALUES",
	TypeGetValuesResult: "FCGI_GET_VALUES_RESULT",
	TypeUnknownType:     "FCGI_UNKNOWN_TYPE",
}

// String returns the spec's name of t, such as "FCGI_PARAMS", or "RecType(42)".
func (t RecType) String() string {
	if int(t) < len(recTypeNames) && recTypeNames[t] != "" {
		return recTypeNames[t]
	}
	return "RecType(" + strconv.Itoa(int(t)) + ")"
}

// stage names a record type in error messages ("params", "begin request").
func (t RecType) stage() string {
	switch t {
	case TypeBeginRequest:
		return "begin request"
	case TypeAbortRequest:
		return "abort request"
	case TypeEndRequest:
		return "end request"
	case TypeParams:
		return "params"
	case TypeStdin:
		return "stdin"
	case TypeStdout:
		return "stdout"
	case TypeStderr:
		return "stderr"
	case TypeData:
		return "data"
	case TypeGetValues:
		return "get values"
	case TypeGetValuesResult:
		return "get values result"
	case TypeUnknownType:
		return "unknown type"
	}
	return "record type " + strconv.Itoa(int(t))
}

// Role is the role of the application in a request (spec §6), sent in
// BEGIN_REQUEST.
type Role uint16

// Roles, spec §8 (FCGI_RESPONDER, FCGI_AUTHORIZER, FCGI_FILTER).
const (
	RoleResponder  Role = 1
	RoleAuthorizer Role = 2
	RoleFilter     Role = 3
)

// String returns "RESPONDER", "AUTHORIZER", "FILTER" or "Role(7)".
func (r Role) String() string {
	switch r {
	case RoleResponder:
		return "RESPONDER"
	case RoleAuthorizer:
		return "AUTHORIZER"
	case RoleFilter:
		return "FILTER"
	}
	return "Role(" + strconv.Itoa(int(r)) + ")"
}

// Protocol status values of END_REQUEST, spec §5.5 (FCGI_REQUEST_COMPLETE,
// FCGI_CANT_MPX_CONN, FCGI_OVERLOADED, FCGI_UNKNOWN_ROLE), for
// AppendEndRequest.
const (
	StatusRequestComplete = 0 // normal end of request
	StatusCantMpxConn     = 1 // refused: a second request on a connection that is busy
	StatusOverloaded      = 2 // refused: out of resources
	StatusUnknownRole     = 3 // refused: role not supported
)

const (
	version1   = 1     // FCGI_VERSION_1, the only version
	flagKeep   = 1     // FCGI_KEEP_CONN in BEGIN_REQUEST flags
	headerLen  = 8     // FCGI_HEADER_LEN
	maxContent = 65535 // largest content length a header can carry
	maxPadding = 255   // largest padding length a header can carry
	// maxRecordLen is the largest record on the wire; RecordReader's buffer
	// never grows past it.
	maxRecordLen = headerLen + maxContent + maxPadding
	// maxPairLen is the largest name or value length of a name-value pair.
	maxPairLen = 1<<31 - 1
	// beginBodyLen, endBodyLen and unknownTypeBodyLen are the fixed
	// content lengths of those records.
	beginBodyLen       = 8
	endBodyLen         = 8
	unknownTypeBodyLen = 8
)

// zeros is the source of padding bytes; it is never written.
var zeros [maxPadding]byte

// Header is the fixed 8-byte start of every record. The reserved byte is not
// kept.
type Header struct {
	Version       uint8
	Type          RecType
	ID            uint16 // request id; 0 for management records
	ContentLength uint16
	PaddingLength uint8
}

// Record is one record as read by RecordReader.
type Record struct {
	Header
	// Content is the record's content, without padding. It aliases the
	// reader's buffer and is valid only until the next call to Read.
	Content []byte
}

// ProtocolError reports input that breaks the FastCGI protocol: which request
// and record type it concerned and what was wrong.
type ProtocolError struct {
	ID   uint16  // request id; 0 for management records or when unknown
	Type RecType // type of the record being processed; 0 when unknown
	Err  error   // what was wrong
}

func (e *ProtocolError) Error() string {
	s := "fcgi: "
	if e.ID != 0 {
		s += "request " + strconv.Itoa(int(e.ID)) + ": "
	}
	if e.Type != 0 {
		s += e.Type.stage() + ": "
	}
	return s + e.Err.Error()
}

func (e *ProtocolError) Unwrap() error { return e.Err }

// protocolErrorf returns a *ProtocolError for a record with header h.
func protocolErrorf(h Header, format string, args ...any) error {
	return &ProtocolError{ID: h.ID, Type: h.Type, Err: fmt.Errorf(format, args...)}
}

// RecordReader reads records from a stream, reusing one buffer: records are
// returned without copying and their Content stays valid until the next Read.
// The buffer starts small and grows to at most one maximal record (65,798
// bytes), so an idle connection holds little memory.
type RecordReader struct {
	r        io.Reader
	buf      []byte // buf[off:end] is read from r and not yet returned
	off, end int
	err      error // error from r, returned once the bytes before it are used up
	rec      Record
}

// initialReadBuf is RecordReader's first buffer size: one read takes in a
// whole small request (BEGIN_REQUEST, PARAMS, empty STDIN) from Apache.
const initialReadBuf = 4096

// NewRecordReader returns a RecordReader reading from r.
func NewRecordReader(r io.Reader) *RecordReader {
	return &RecordReader{r: r}
}

// Read returns the next record. At the end of the stream on a record
// boundary it returns io.EOF. A stream that ends inside a record yields a
// *ProtocolError wrapping io.ErrUnexpectedEOF, and a header with a version
// other than 1 a *ProtocolError; other errors are the underlying reader's.
// The returned *Record is reused by the next Read.
func (rr *RecordReader) Read() (*Record, error) {
	if rr.off == rr.end {
		rr.off, rr.end = 0, 0
	}
	if err := rr.fill(headerLen); err != nil {
		if err == io.EOF && rr.end == rr.off {
			return nil, io.EOF
		}
		return nil, rr.truncated(Header{}, err)
	}
	b := rr.buf[rr.off : rr.off+headerLen]
	h := Header{
		Version:       b[0],
		Type:          RecType(b[1]),
		ID:            binary.BigEndian.Uint16(b[2:4]),
		ContentLength: binary.BigEndian.Uint16(b[4:6]),
		PaddingLength: b[6],
	}
	// Check before taking in the content: a stream that is not FastCGI
	// (an HTTP request sent to the socket, say) stops here.
	if h.Version != version1 {
		return nil, protocolErrorf(h, "record version %d, want %d", h.Version, version1)
	}
	n := headerLen + int(h.ContentLength) + int(h.PaddingLength)
	if err := rr.fill(n); err != nil {
		return nil, rr.truncated(h, err)
	}
	start := rr.off + headerLen
	rr.rec.Header = h
	rr.rec.Content = rr.buf[start : start+int(h.ContentLength) : start+int(h.ContentLength)]
	rr.off += n
	return &rr.rec, nil
}

// truncated turns an early io.EOF inside a record into a *ProtocolError.
func (rr *RecordReader) truncated(h Header, err error) error {
	if err != io.EOF {
		return err
	}
	have := rr.end - rr.off
	if have < headerLen {
		return &ProtocolError{Err: fmt.Errorf("record header truncated after %d bytes: %w", have, io.ErrUnexpectedEOF)}
	}
	return protocolErrorf(h, "record truncated: content length %d, padding length %d, got %d bytes: %w",
		h.ContentLength, h.PaddingLength, have-headerLen, io.ErrUnexpectedEOF)
}

// fill makes sure at least n unreturned bytes are in buf, n <= maxRecordLen.
func (rr *RecordReader) fill(n int) error {
	if rr.end-rr.off >= n {
		return nil
	}
	if len(rr.buf)-rr.off < n {
		if len(rr.buf) < n {
			size := max(n, 2*len(rr.buf), initialReadBuf)
			size = min(size, maxRecordLen)
			nb := make([]byte, size)
			rr.end = copy(nb, rr.buf[rr.off:rr.end])
			rr.buf = nb
		} else {
			rr.end = copy(rr.buf, rr.buf[rr.off:rr.end])
		}
		rr.off = 0
	}
	for empty := 0; rr.end-rr.off < n; {
		if err := rr.err; err != nil {
			rr.err = nil // like bufio.Reader: report once, then ask r again
			return err
		}
		m, err := rr.r.Read(rr.buf[rr.end:])
		rr.end += m
		rr.err = err
		if m > 0 {
			empty = 0
		} else if empty++; empty >= 100 {
			return io.ErrNoProgress
		}
	}
	return nil
}

// appendHeader appends a record header for content of length n and the
// padding that rounds the record to a multiple of 8 bytes.
func appendHeader(b []byte, t RecType, id uint16, n int) []byte {
	return append(b, version1, byte(t), byte(id>>8), byte(id), byte(n>>8), byte(n), byte(-n&7), 0)
}

// putHeader writes a header for content of length n into b[:headerLen] and
// returns the padding length it declared.
func putHeader(b []byte, t RecType, id uint16, n int) int {
	pad := -n & 7
	b[0] = version1
	b[1] = byte(t)
	binary.BigEndian.PutUint16(b[2:4], id)
	binary.BigEndian.PutUint16(b[4:6], uint16(n))
	b[6] = byte(pad)
	b[7] = 0
	return pad
}

// AppendRecord appends content as records of type t for request id: one
// record per 65,535 bytes, each padded to a multiple of 8 bytes. Empty content
// appends one empty record, which ends a stream.
func AppendRecord(b []byte, t RecType, id uint16, content []byte) []byte {
	for {
		n := min(len(content), maxContent)
		b = appendHeader(b, t, id, n)
		b = append(b, content[:n]...)
		b = append(b, zeros[:-n&7]...)
		content = content[n:]
		if len(content) == 0 {
			return b
		}
	}
}

// AppendBeginRequest appends a BEGIN_REQUEST record.
func AppendBeginRequest(b []byte, id uint16, role Role, keepConn bool) []byte {
	var flags byte
	if keepConn {
		flags = flagKeep
	}
	b = appendHeader(b, TypeBeginRequest, id, beginBodyLen)
	return append(b, byte(role>>8), byte(role), flags, 0, 0, 0, 0, 0)
}

// ParseBeginRequest decodes the content of a BEGIN_REQUEST record. Flags
// other than FCGI_KEEP_CONN are ignored, as the spec reserves them.
func ParseBeginRequest(content []byte) (role Role, keepConn bool, err error) {
	if len(content) != beginBodyLen {
		return 0, false, &ProtocolError{Type: TypeBeginRequest,
			Err: fmt.Errorf("content length %d, want %d", len(content), beginBodyLen)}
	}
	return Role(binary.BigEndian.Uint16(content)), content[2]&flagKeep != 0, nil
}

// AppendEndRequest appends an END_REQUEST record; protoStatus is one of the
// Status constants.
func AppendEndRequest(b []byte, id uint16, appStatus uint32, protoStatus uint8) []byte {
	b = appendHeader(b, TypeEndRequest, id, endBodyLen)
	return append(b, byte(appStatus>>24), byte(appStatus>>16), byte(appStatus>>8), byte(appStatus),
		protoStatus, 0, 0, 0)
}

// appendUnknownType appends the UNKNOWN_TYPE reply to a record of type t.
func appendUnknownType(b []byte, t RecType) []byte {
	b = appendHeader(b, TypeUnknownType, 0, unknownTypeBodyLen)
	return append(b, byte(t), 0, 0, 0, 0, 0, 0, 0)
}

// Param is one FastCGI name-value pair, in the order Apache sent it.
type Param struct{ Name, Value string }

// AppendParams appends ps in the name-value pair encoding, using the 1-byte
// length form for lengths up to 127. It panics if a name or value is 2 GiB or
// longer, which the encoding cannot express.
func AppendParams(b []byte, ps []Param) []byte {
	for _, p := range ps {
		b = appendPairLen(b, len(p.Name))
		b = appendPairLen(b, len(p.Value))
		b = append(b, p.Name...)
		b = append(b, p.Value...)
	}
	return b
}

func appendPairLen(b []byte, n int) []byte {
	if n <= 127 {
		return append(b, byte(n))
	}
	if n > maxPairLen {
		panic("fcgi: name-value pair length " + strconv.Itoa(n) + " does not fit in 31 bits")
	}
	return append(b, byte(n>>24)|0x80, byte(n>>16), byte(n>>8), byte(n))
}

// ParseParams decodes the name-value pairs in b and appends them to dst, in
// order, duplicates kept. All names and values share one new string, so b may
// be reused afterwards. Input that does not decode exactly (a length past the
// end of b, a truncated 4-byte length) yields a *ProtocolError naming the
// offset and the cause, and dst unchanged.
func ParseParams(b []byte, dst []Param) ([]Param, error) {
	// First pass: validate and count, so that nothing is appended on error
	// and dst grows at most once.
	count := 0
	for off := 0; off < len(b); count++ {
		n, err := pairLen(b, off)
		if err != nil {
			return dst, err
		}
		off += n
	}
	if count == 0 {
		return dst, nil
	}
	dst = growParams(dst, count)
	s := string(b)
	for off := 0; off < len(s); {
		nameLen, n := readPairLen(s[off:])
		off += n
		valueLen, n := readPairLen(s[off:])
		off += n
		dst = append(dst, Param{Name: s[off : off+nameLen], Value: s[off+nameLen : off+nameLen+valueLen]})
		off += nameLen + valueLen
	}
	return dst, nil
}

func growParams(dst []Param, n int) []Param {
	if cap(dst)-len(dst) >= n {
		return dst
	}
	nd := make([]Param, len(dst), len(dst)+n)
	copy(nd, dst)
	return nd
}

// pairLen returns the encoded length of the name-value pair at b[off:].
func pairLen(b []byte, off int) (int, error) {
	p := off
	var lens [2]int
	for i, what := range [2]string{"name", "value"} {
		if p >= len(b) {
			return 0, paramsErrorf(off, "%s length missing", what)
		}
		if b[p]&0x80 == 0 {
			lens[i] = int(b[p])
			p++
			continue
		}
		if len(b)-p < 4 {
			return 0, paramsErrorf(off, "4-byte %s length truncated to %d bytes", what, len(b)-p)
		}
		lens[i] = int(binary.BigEndian.Uint32(b[p:]) &^ (1 << 31))
		p += 4
	}
	if rest := len(b) - p; lens[0] > rest {
		return 0, paramsErrorf(off, "name length %d exceeds remaining %d bytes", lens[0], rest)
	}
	p += lens[0]
	if rest := len(b) - p; lens[1] > rest {
		return 0, paramsErrorf(off, "value length %d exceeds remaining %d bytes", lens[1], rest)
	}
	return p + lens[1] - off, nil
}

// readPairLen decodes one length already validated by pairLen.
func readPairLen(s string) (length, size int) {
	if s[0]&0x80 == 0 {
		return int(s[0]), 1
	}
	return int(s[0]&0x7f)<<24 | int(s[1])<<16 | int(s[2])<<8 | int(s[3]), 4
}

func paramsErrorf(off int, format string, args ...any) error {
	return &ProtocolError{Type: TypeParams,
		Err: fmt.Errorf("name-value pair at offset %d: "+format, append([]any{off}, args...)...)}
}
