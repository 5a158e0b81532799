package dispatch

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// reencode decodes a frame's payload with the decoder of its type and
// encodes it again.
func reencode(t testing.TB, f Frame) ([]byte, error) {
	var p []byte
	switch f.Type {
	case FrameHello:
		kv, err := ParseHello(f.Payload)
		if err != nil {
			return nil, err
		}
		p = AppendHello(nil, kv)
	case FrameRequest:
		r, err := ParseRequest(f.Payload)
		if err != nil {
			return nil, err
		}
		p = AppendRequest(nil, r)
	case FrameRead:
		n, err := ParseRead(f.Payload)
		if err != nil {
			return nil, err
		}
		p = AppendRead(nil, n)
	case FrameHeaders:
		h, err := ParseHeaders(f.Payload)
		if err != nil {
			return nil, err
		}
		p = AppendHeaders(nil, h)
	case FrameLog:
		l, err := ParseLog(f.Payload)
		if err != nil {
			return nil, err
		}
		p = AppendLog(nil, l.Level, l.Message)
	case FrameEnd:
		e, err := ParseEnd(f.Payload)
		if err != nil {
			return nil, err
		}
		p = AppendEnd(nil, e)
	case FrameCall:
		c, err := ParseCall(f.Payload)
		if err != nil {
			return nil, err
		}
		p = AppendCall(nil, c)
	case FrameReply:
		r, err := ParseReply(f.Payload)
		if err != nil {
			return nil, err
		}
		p = AppendReply(nil, r)
	case FrameControl:
		c, err := ParseControl(f.Payload)
		if err != nil {
			return nil, err
		}
		p = AppendControl(nil, c)
	default: // BODY, WRITE, FLUSH, SHUTDOWN: raw payloads
		p = append([]byte(nil), f.Payload...)
	}
	return AppendFrame(nil, f.Type, f.ID, p), nil
}

// readGolden reads a .hex file: hex digits, with whitespace and # comments ignored.
func readGolden(t *testing.T, path string) []byte {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var digits strings.Builder
	for _, line := range strings.Split(string(src), "\n") {
		line, _, _ = strings.Cut(line, "#")
		digits.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(digits.String())
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return b
}

// TestGoldenFrames decodes every frame in testdata/proto (shared with the
// Python side's tests) and re-encodes it to the same bytes, through whole,
// one-byte and half reads.
func TestGoldenFrames(t *testing.T) {
	files, _ := filepath.Glob("testdata/proto/*.hex")
	if len(files) < 13 {
		t.Fatalf("found %d golden frames, want one per frame type at least", len(files))
	}
	seen := map[FrameType]bool{}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			raw := readGolden(t, path)
			for _, wrap := range []struct {
				name string
				fn   func([]byte) *FrameReader
			}{
				{"whole", func(b []byte) *FrameReader { return NewFrameReader(bytes.NewReader(b)) }},
				{"onebyte", func(b []byte) *FrameReader { return NewFrameReader(iotest.OneByteReader(bytes.NewReader(b))) }},
				{"half", func(b []byte) *FrameReader { return NewFrameReader(iotest.HalfReader(bytes.NewReader(b))) }},
			} {
				f, err := wrap.fn(raw).ReadFrame()
				if err != nil {
					t.Fatalf("%s: ReadFrame: %v", wrap.name, err)
				}
				seen[f.Type] = true
				got, err := reencode(t, f)
				if err != nil {
					t.Fatalf("%s: decode %v: %v", wrap.name, f.Type, err)
				}
				if !bytes.Equal(got, raw) {
					t.Fatalf("%s: re-encoded %v differs:\n got %x\nwant %x", wrap.name, f.Type, got, raw)
				}
			}
		})
	}
	for ft := FrameHello; ft <= FrameShutdown; ft++ {
		if !seen[ft] {
			t.Errorf("no golden frame of type %v", ft)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		t    FrameType
		p    []byte
	}{
		{"hello", FrameHello, AppendHello(nil, []KV{{"protocol", "1"}, {"pid", "42"}})},
		{"request", FrameRequest, AppendRequest(nil, &RequestFrame{ConfigID: 7, ConfigJSON: []byte(`{"a":1}`), Params: []KV{{"A", "1"}, {"A", "2"}}, Meta: []KV{{"uri", "/x"}}})},
		{"headers", FrameHeaders, AppendHeaders(nil, &HeadersFrame{Status: 404, Reason: "Nope", Headers: []KV{{"Set-Cookie", "a=1"}, {"Set-Cookie", "b=2"}}})},
		{"end-negative", FrameEnd, AppendEnd(nil, &EndFrame{Result: ResultDeclined, Info: []KV{{"filename", "/f"}}})},
		{"log", FrameLog, AppendLog(nil, 3, "boom")},
		{"empty-body", FrameBody, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := AppendFrame(nil, c.t, 9, c.p)
			f, err := NewFrameReader(bytes.NewReader(raw)).ReadFrame()
			if err != nil {
				t.Fatal(err)
			}
			if f.Type != c.t || f.ID != 9 {
				t.Fatalf("got %v id %d, want %v id 9", f.Type, f.ID, c.t)
			}
			got, err := reencode(t, f)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, raw) {
				t.Fatalf("round trip differs: %x vs %x", got, raw)
			}
		})
	}
	e, _ := ParseEnd(AppendEnd(nil, &EndFrame{Result: ResultDone}))
	if e.Result != ResultDone {
		t.Errorf("END result = %d, want %d", e.Result, ResultDone)
	}
}

func TestMalformedFrames(t *testing.T) {
	good := AppendFrame(nil, FrameLog, 1, AppendLog(nil, 3, "x"))
	cases := []struct {
		name string
		raw  []byte
		want string
	}{
		{"bad magic", append([]byte("XG"), good[2:]...), "bad magic"},
		{"bad version", append([]byte{'M', 'G', 9}, good[3:]...), "version 9"},
		{"unknown type", append([]byte{'M', 'G', 1, 99}, good[4:]...), "unknown frame type 99"},
		{"truncated header", good[:5], "truncated frame header"},
		{"truncated payload", good[:len(good)-1], "truncated payload"},
		{"huge payload", []byte{'M', 'G', 1, 8, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff}, "exceeds"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewFrameReader(bytes.NewReader(c.raw)).ReadFrame()
			var pe *ProtoError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ReadFrame = %v, want ProtoError containing %q", err, c.want)
			}
		})
	}
	// Payload-level errors.
	if _, err := ParseHello([]byte{0, 0, 0, 5}); err == nil || !strings.Contains(err.Error(), "payload ends early") {
		t.Errorf("ParseHello(count past end) = %v", err)
	}
	if _, err := ParseLog(append(AppendLog(nil, 1, "x"), 0)); err == nil || !strings.Contains(err.Error(), "trailing") {
		t.Errorf("ParseLog(trailing byte) = %v", err)
	}
	if _, err := ParseRead([]byte{0, 0, 0, 0}); err == nil {
		t.Errorf("ParseRead(0) = nil error")
	}
	if _, err := ParseHeaders(AppendHeaders(nil, &HeadersFrame{Status: 42})); err == nil {
		t.Errorf("ParseHeaders(status 42) = nil error")
	}
}

// FuzzFrames: arbitrary bytes never panic the reader or the decoders, and
// whatever decodes re-encodes to the same bytes.
func FuzzFrames(f *testing.F) {
	files, _ := filepath.Glob("testdata/proto/*.hex")
	for _, p := range files {
		src, _ := os.ReadFile(p)
		var digits strings.Builder
		for _, line := range strings.Split(string(src), "\n") {
			line, _, _ = strings.Cut(line, "#")
			digits.WriteString(strings.Join(strings.Fields(line), ""))
		}
		if b, err := hex.DecodeString(digits.String()); err == nil {
			f.Add(b)
		}
	}
	f.Add(AppendFrame(nil, FrameEnd, 1, AppendEnd(nil, &EndFrame{Result: 404})))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr := NewFrameReader(bytes.NewReader(b))
		for i := 0; i < 16; i++ {
			fm, err := fr.ReadFrame()
			if err != nil {
				return
			}
			got, err := reencode(t, fm)
			if err != nil {
				continue
			}
			want := AppendFrame(nil, fm.Type, fm.ID, fm.Payload)
			if !bytes.Equal(got, want) && !reflect.DeepEqual(got, want) {
				t.Fatalf("re-encoded %v differs: %x vs %x", fm.Type, got, want)
			}
		}
	})
}
