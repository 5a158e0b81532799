// This file is the Go side of the worker wire: encoding, decoding and limits of
// the frames exchanged between the daemon and one Python worker process. The
// Python side, dispatch/pyrt/mpgate/proto.py, mirrors it function for function;
// both are tested against the golden frames in dispatch/testdata/proto/*.hex.
//
// # Transport
//
// Each worker is a child process started by the daemon. The protocol runs over
// a unix stream socketpair handed to the worker as file descriptor 3. The
// worker's stdout and stderr are a pipe to the daemon, logged line by line; a
// handler's output to sys.stdout/sys.stderr during a request is sent as LOG
// frames instead, so that it reaches Apache's error log for that request.
//
// # Frame
//
//	| magic "MG" (2) | version (1) | type (1) | request id (4) | payload length (4) | payload ... |
//
// All integers are big-endian. The payload is at most MaxPayload bytes; a
// longer one is a protocol error and the worker is killed. Request id 0 means
// "not about a request" (HELLO, worker-level LOG, CONTROL, SHUTDOWN).
//
// Payload primitives:
//
//	u32   4 bytes, unsigned
//	i32   4 bytes, two's complement (mod_python results: OK 0, DECLINED -1, DONE -2, or an HTTP status)
//	str   u32 length + bytes (no terminator, any bytes)
//	kv    u32 count + count × (str key, str value); order and duplicates are kept
//
// # Message flow (one request; the worker serves one request at a time)
//
//	worker                               daemon
//	                           ◄───────  CONTROL(0, worker.init, kv)
//	                                                          first of all, when the worker was
//	                                                          started with MPGATE_WORKER_INIT=1
//	LOG(0, level, line)        ───────►                       PythonImport's messages
//	HELLO(kv)                  ───────►                       once, ready for requests
//	                           ◄───────  REQUEST(id, ...)
//	READ(id, max)              ───────►                       req.read() needs body
//	                           ◄───────  BODY(id, bytes)      1..max bytes; empty = end of body
//	CALL(id, method, kv)       ───────►                       e.g. session lock (later issues)
//	                           ◄───────  REPLY(id, ok, kv)
//	LOG(id, level, line)       ───────►                       any time
//	HEADERS(id, status, kv)    ───────►                       first write/flush, or at the end
//	WRITE(id, bytes)           ───────►                       body bytes, any number
//	FLUSH(id)                  ───────►                       push what was written to Apache
//	END(id, result, kv, kv)    ───────►                       worker is free again
//	                           ◄───────  CONTROL(0, cmd, kv)  between requests only,
//	                                                          e.g. right before a REQUEST
//	                           ◄───────  SHUTDOWN(0)          finish, run cleanups, exit 0
//	LOG(0, level, line)        ───────►                       the cleanups' messages, read
//	                                                          by the daemon until the worker exits
//
// Body back-pressure is pull-based: the daemon sends a BODY frame only in
// answer to a READ, so at most one chunk per request is ever in flight.
//
// # Types and payloads
//
//	HELLO    (w→d) kv: protocol (decimal ProtocolVersion), pid, python (version), interpreter
//	REQUEST  (d→w) u32 config id | str config JSON ("" when this worker already has that id) | kv params (the FastCGI params, in Apache's order) | kv meta (values the daemon computed: see RequestMeta keys)
//	BODY     (d→w) raw body bytes; an empty payload means end of body
//	READ     (w→d) u32 maximum number of bytes wanted (> 0)
//	HEADERS  (w→d) u32 status | str reason ("" = standard phrase) | kv headers, in order, duplicates kept (Content-Type included)
//	WRITE    (w→d) raw body bytes
//	FLUSH    (w→d) empty
//	LOG      (w→d) u32 level (apache.APLOG_*) | str message (one line, no trailing newline)
//	END      (w→d) i32 result | kv info | kv headers (see EndAction)
//	CALL     (w→d) str method | kv arguments
//	REPLY    (d→w) u32 status (0 ok, else error) | kv results (on error: "error" → message)
//	CONTROL  (d→w) str command | kv arguments
//	SHUTDOWN (d→w) empty
//
// CONTROL commands:
//
//	worker.init          what a worker needs before its first request, sent
//	                     before HELLO (dispatch/lifecycle.go); args: "server" →
//	                     JSON description of a server (repeated: the main
//	                     server, then each <VirtualHost>, as in the REQUEST
//	                     config's "server"), "define" → a name
//	                     apache.exists_config_define knows (repeated),
//	                     "import" → a PythonImport of the worker's
//	                     interpreter, "module" or "module::function"
//	                     (repeated, in the order they run). The worker runs
//	                     the imports, logging failures, then says HELLO.
//	modules.invalidate   site modules to drop, sent in the same write as the
//	                     worker's next REQUEST (dispatch/modules.go); args, repeated:
//	                     "changed" → file that changed on disk, "dependent" → file of a
//	                     module that depends on one (transitively), "rescan" → "1" when
//	                     files appeared or vanished in a watched directory (forget the
//	                     cached name → file resolutions). Stale modules are reloaded on
//	                     their next import by a request with PythonAutoReload On.
//
// END's info may carry, besides the keys below, one ("module", JSON object) entry
// per site module loaded, reloaded, or given new dependencies during the request:
// {"file", "name", "generation", "deps": [files], "mtime_ns", "size", "ino",
// "loaded": unix seconds, "reason"}; the stat fields are those of the file as the
// worker read it, so that a change before the daemon watched it is still seen.
//
// END's result tells the daemon what is left to do (mod_python.md §2.5):
//
//	OK (0), DONE (-2)    the response is complete; HEADERS was already sent
//	DECLINED (-1)        content handler declined: if no HEADERS was sent, the
//	                     daemon serves info["filename"] as Apache's default handler would,
//	                     with END's headers; for an error only the first
//	                     info["err_headers"] of them (err_headers_out)
//	100..599             an HTTP error: if no HEADERS was sent, the daemon sends this
//	                     status with END's headers (err_headers_out, Allow, ...) and
//	                     Apache's error document; otherwise it appends the error text
//	anything else        treated as 500

package dispatch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ProtocolVersion is carried in every frame header and in HELLO; it is bumped
// on any incompatible change of this file (and of proto.py).
const ProtocolVersion = 1

// MaxPayload bounds one frame's payload. Body chunks are far smaller
// (bodyChunk); the bound exists for REQUEST frames with large configurations.
const MaxPayload = 16 << 20

const frameHeaderLen = 12

// FrameType identifies a frame; the names are the protocol's.
type FrameType uint8

// Frame types. Numbers are part of the wire format.
const (
	FrameHello    FrameType = 1
	FrameRequest  FrameType = 2
	FrameBody     FrameType = 3
	FrameRead     FrameType = 4
	FrameHeaders  FrameType = 5
	FrameWrite    FrameType = 6
	FrameFlush    FrameType = 7
	FrameLog      FrameType = 8
	FrameEnd      FrameType = 9
	FrameCall     FrameType = 10
	FrameReply    FrameType = 11
	FrameControl  FrameType = 12
	FrameShutdown FrameType = 13
)

var frameNames = [...]string{
	FrameHello: "HELLO", FrameRequest: "REQUEST", FrameBody: "BODY", FrameRead: "READ",
	FrameHeaders: "HEADERS", FrameWrite: "WRITE", FrameFlush: "FLUSH", FrameLog: "LOG",
	FrameEnd: "END", FrameCall: "CALL", FrameReply: "REPLY", FrameControl: "CONTROL",
	FrameShutdown: "SHUTDOWN",
}

func (t FrameType) String() string {
	if int(t) < len(frameNames) && frameNames[t] != "" {
		return frameNames[t]
	}
	return fmt.Sprintf("FrameType(%d)", uint8(t))
}

// mod_python result codes carried by END (apache.OK, DECLINED, DONE).
const (
	ResultOK       = 0
	ResultDeclined = -1
	ResultDone     = -2
)

// Frame is one decoded frame. Payload aliases the reader's buffer and is
// valid until the next ReadFrame on the same FrameReader.
type Frame struct {
	Type    FrameType
	ID      uint32
	Payload []byte
}

// ProtoError reports a malformed frame or payload from a worker or daemon.
type ProtoError struct {
	Type FrameType
	Err  string
}

func (e *ProtoError) Error() string {
	if e.Type == 0 {
		return "worker protocol: " + e.Err
	}
	return fmt.Sprintf("worker protocol: %v: %s", e.Type, e.Err)
}

// ErrShortPayload is wrapped by decoding errors when a payload ends early.
var ErrShortPayload = errors.New("payload ends early")

// AppendFrame appends a frame header and payload to b.
func AppendFrame(b []byte, t FrameType, id uint32, payload []byte) []byte {
	b = appendFrameHeader(b, t, id, len(payload))
	return append(b, payload...)
}

func appendFrameHeader(b []byte, t FrameType, id uint32, n int) []byte {
	b = append(b, 'M', 'G', ProtocolVersion, byte(t))
	b = binary.BigEndian.AppendUint32(b, id)
	return binary.BigEndian.AppendUint32(b, uint32(n))
}

// FrameReader reads frames from a stream, reusing one buffer.
type FrameReader struct {
	r   io.Reader
	hdr [frameHeaderLen]byte
	buf []byte
}

// NewFrameReader returns a reader of frames from r (buffer r yourself if it is
// not already buffered).
func NewFrameReader(r io.Reader) *FrameReader { return &FrameReader{r: r} }

// ReadFrame reads the next frame. The header is checked (magic, version,
// length) before the payload is allocated.
func (fr *FrameReader) ReadFrame() (Frame, error) {
	if _, err := io.ReadFull(fr.r, fr.hdr[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			err = &ProtoError{Err: "truncated frame header"}
		}
		return Frame{}, err
	}
	h := fr.hdr[:]
	if h[0] != 'M' || h[1] != 'G' {
		return Frame{}, &ProtoError{Err: fmt.Sprintf("bad magic %q", h[:2])}
	}
	if h[2] != ProtocolVersion {
		return Frame{}, &ProtoError{Err: fmt.Sprintf("version %d, want %d", h[2], ProtocolVersion)}
	}
	t := FrameType(h[3])
	if t < FrameHello || t > FrameShutdown {
		return Frame{}, &ProtoError{Err: fmt.Sprintf("unknown frame type %d", h[3])}
	}
	n := binary.BigEndian.Uint32(h[8:12])
	if n > MaxPayload {
		return Frame{}, &ProtoError{Type: t, Err: fmt.Sprintf("payload of %d bytes exceeds %d", n, MaxPayload)}
	}
	if cap(fr.buf) < int(n) {
		fr.buf = make([]byte, n)
	}
	fr.buf = fr.buf[:n]
	if _, err := io.ReadFull(fr.r, fr.buf); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			err = &ProtoError{Type: t, Err: "truncated payload"}
		}
		return Frame{}, err
	}
	return Frame{Type: t, ID: binary.BigEndian.Uint32(h[4:8]), Payload: fr.buf}, nil
}

// KV is one key/value pair of a kv payload block.
type KV struct{ Key, Value string }

// appendStr appends a str primitive.
func appendStr(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func appendBytes(b []byte, s []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// appendKV appends a kv primitive.
func appendKV(b []byte, kvs []KV) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(kvs)))
	for _, kv := range kvs {
		b = appendStr(b, kv.Key)
		b = appendStr(b, kv.Value)
	}
	return b
}

// payloadReader decodes primitives from a payload with a sticky error.
type payloadReader struct {
	t   FrameType
	b   []byte
	err error
}

func (p *payloadReader) fail(what string) {
	if p.err == nil {
		p.err = &ProtoError{Type: p.t, Err: what + ": " + ErrShortPayload.Error()}
	}
}

func (p *payloadReader) u32(what string) uint32 {
	if p.err != nil {
		return 0
	}
	if len(p.b) < 4 {
		p.fail(what)
		return 0
	}
	v := binary.BigEndian.Uint32(p.b)
	p.b = p.b[4:]
	return v
}

func (p *payloadReader) bytes(what string) []byte {
	n := p.u32(what)
	if p.err != nil {
		return nil
	}
	if uint64(n) > uint64(len(p.b)) {
		p.fail(what)
		return nil
	}
	s := p.b[:n:n]
	p.b = p.b[n:]
	return s
}

func (p *payloadReader) str(what string) string { return string(p.bytes(what)) }

func (p *payloadReader) kv(what string) []KV {
	n := p.u32(what)
	if p.err != nil {
		return nil
	}
	// Each pair needs at least 8 bytes: refuse counts the payload cannot hold
	// before allocating for them.
	if uint64(n)*8 > uint64(len(p.b)) {
		p.fail(what)
		return nil
	}
	kvs := make([]KV, 0, n)
	for i := uint32(0); i < n && p.err == nil; i++ {
		k := p.str(what)
		v := p.str(what)
		kvs = append(kvs, KV{k, v})
	}
	return kvs
}

func (p *payloadReader) done() error {
	if p.err == nil && len(p.b) != 0 {
		p.err = &ProtoError{Type: p.t, Err: fmt.Sprintf("%d trailing bytes", len(p.b))}
	}
	return p.err
}

// Hello is the HELLO payload.
type Hello struct{ Fields []KV }

// Get returns the value of key in kvs, or "".
func Get(kvs []KV, key string) string {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value
		}
	}
	return ""
}

// AppendHello encodes a HELLO payload.
func AppendHello(b []byte, fields []KV) []byte { return appendKV(b, fields) }

// ParseHello decodes a HELLO payload.
func ParseHello(payload []byte) ([]KV, error) {
	p := payloadReader{t: FrameHello, b: payload}
	kvs := p.kv("fields")
	return kvs, p.done()
}

// RequestFrame is the REQUEST payload.
type RequestFrame struct {
	ConfigID   uint32
	ConfigJSON []byte // empty when the worker already has ConfigID
	Params     []KV
	Meta       []KV
}

// AppendRequest encodes a REQUEST payload.
func AppendRequest(b []byte, r *RequestFrame) []byte {
	b = binary.BigEndian.AppendUint32(b, r.ConfigID)
	b = appendBytes(b, r.ConfigJSON)
	b = appendKV(b, r.Params)
	return appendKV(b, r.Meta)
}

// ParseRequest decodes a REQUEST payload.
func ParseRequest(payload []byte) (*RequestFrame, error) {
	p := payloadReader{t: FrameRequest, b: payload}
	r := &RequestFrame{}
	r.ConfigID = p.u32("config id")
	r.ConfigJSON = p.bytes("config")
	r.Params = p.kv("params")
	r.Meta = p.kv("meta")
	return r, p.done()
}

// ParseRead decodes a READ payload: the number of bytes wanted.
func ParseRead(payload []byte) (int, error) {
	p := payloadReader{t: FrameRead, b: payload}
	n := p.u32("max")
	if err := p.done(); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, &ProtoError{Type: FrameRead, Err: "zero bytes wanted"}
	}
	return int(n), nil
}

// AppendRead encodes a READ payload.
func AppendRead(b []byte, n int) []byte { return binary.BigEndian.AppendUint32(b, uint32(n)) }

// HeadersFrame is the HEADERS payload: the response head.
type HeadersFrame struct {
	Status  int
	Reason  string
	Headers []KV
}

// AppendHeaders encodes a HEADERS payload.
func AppendHeaders(b []byte, h *HeadersFrame) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(h.Status))
	b = appendStr(b, h.Reason)
	return appendKV(b, h.Headers)
}

// ParseHeaders decodes a HEADERS payload.
func ParseHeaders(payload []byte) (*HeadersFrame, error) {
	p := payloadReader{t: FrameHeaders, b: payload}
	h := &HeadersFrame{}
	h.Status = int(p.u32("status"))
	h.Reason = p.str("reason")
	h.Headers = p.kv("headers")
	if err := p.done(); err != nil {
		return nil, err
	}
	if h.Status < 100 || h.Status > 999 {
		return nil, &ProtoError{Type: FrameHeaders, Err: fmt.Sprintf("status %d out of range", h.Status)}
	}
	return h, nil
}

// LogFrame is the LOG payload.
type LogFrame struct {
	Level   int
	Message string
}

// AppendLog encodes a LOG payload.
func AppendLog(b []byte, level int, msg string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(level))
	return appendStr(b, msg)
}

// ParseLog decodes a LOG payload.
func ParseLog(payload []byte) (LogFrame, error) {
	p := payloadReader{t: FrameLog, b: payload}
	l := LogFrame{Level: int(p.u32("level"))}
	l.Message = p.str("message")
	return l, p.done()
}

// EndFrame is the END payload.
type EndFrame struct {
	Result  int  // mod_python result, see the package comment
	Info    []KV // "filename" for DECLINED; "error" with a one-line cause when the worker failed the request itself
	Headers []KV // for an HTTP error result when no HEADERS was sent: err_headers_out and friends
}

// AppendEnd encodes an END payload.
func AppendEnd(b []byte, e *EndFrame) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(int32(e.Result)))
	b = appendKV(b, e.Info)
	return appendKV(b, e.Headers)
}

// ParseEnd decodes an END payload.
func ParseEnd(payload []byte) (*EndFrame, error) {
	p := payloadReader{t: FrameEnd, b: payload}
	e := &EndFrame{Result: int(int32(p.u32("result")))}
	e.Info = p.kv("info")
	e.Headers = p.kv("headers")
	return e, p.done()
}

// CallFrame is the CALL payload (worker asks the daemon) and, with Status,
// the REPLY payload.
type CallFrame struct {
	Method string
	Args   []KV
}

// AppendCall encodes a CALL payload.
func AppendCall(b []byte, c *CallFrame) []byte {
	b = appendStr(b, c.Method)
	return appendKV(b, c.Args)
}

// ParseCall decodes a CALL payload.
func ParseCall(payload []byte) (*CallFrame, error) {
	p := payloadReader{t: FrameCall, b: payload}
	c := &CallFrame{Method: p.str("method")}
	c.Args = p.kv("args")
	return c, p.done()
}

// ReplyFrame is the REPLY payload.
type ReplyFrame struct {
	Status  uint32 // 0 ok
	Results []KV
}

// AppendReply encodes a REPLY payload.
func AppendReply(b []byte, r *ReplyFrame) []byte {
	b = binary.BigEndian.AppendUint32(b, r.Status)
	return appendKV(b, r.Results)
}

// ParseReply decodes a REPLY payload.
func ParseReply(payload []byte) (*ReplyFrame, error) {
	p := payloadReader{t: FrameReply, b: payload}
	r := &ReplyFrame{Status: p.u32("status")}
	r.Results = p.kv("results")
	return r, p.done()
}

// ControlFrame is the CONTROL payload.
type ControlFrame struct {
	Command string
	Args    []KV
}

// AppendControl encodes a CONTROL payload.
func AppendControl(b []byte, c *ControlFrame) []byte {
	b = appendStr(b, c.Command)
	return appendKV(b, c.Args)
}

// ParseControl decodes a CONTROL payload.
func ParseControl(payload []byte) (*ControlFrame, error) {
	p := payloadReader{t: FrameControl, b: payload}
	c := &ControlFrame{Command: p.str("command")}
	c.Args = p.kv("args")
	return c, p.done()
}
