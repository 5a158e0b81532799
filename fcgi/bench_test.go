package fcgi

import (
	"context"
	"io"
	"net"
	"os"
	"testing"
)

// benchParams is what Apache's mod_proxy_fcgi sends for a small GET.
var benchParams = []Param{
	{"UNIQUE_ID", "Zx8bQ3f0AAEAAB8XbW0AAAAB"},
	{"HTTP_HOST", "localhost"},
	{"HTTP_USER_AGENT", "curl/7.88.1"},
	{"HTTP_ACCEPT", "*/*"},
	{"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
	{"SERVER_SIGNATURE", "<address>Apache/2.4.67 (Debian) Server at localhost Port 80</address>\n"},
	{"SERVER_SOFTWARE", "Apache/2.4.67 (Debian)"},
	{"SERVER_NAME", "localhost"},
	{"SERVER_ADDR", "127.0.0.1"},
	{"SERVER_PORT", "80"},
	{"REMOTE_ADDR", "127.0.0.1"},
	{"DOCUMENT_ROOT", "/srv/www"},
	{"REQUEST_SCHEME", "http"},
	{"CONTEXT_PREFIX", ""},
	{"CONTEXT_DOCUMENT_ROOT", "/srv/www"},
	{"SERVER_ADMIN", "webmaster@localhost"},
	{"SCRIPT_FILENAME", "/srv/www/app/file.py"},
	{"REMOTE_PORT", "53422"},
	{"GATEWAY_INTERFACE", "CGI/1.1"},
	{"SERVER_PROTOCOL", "HTTP/1.1"},
	{"REQUEST_METHOD", "GET"},
	{"QUERY_STRING", "q=1"},
	{"REQUEST_URI", "/app/file.py/extra/path?q=1"},
	{"SCRIPT_NAME", "/app/file.py"},
	{"PATH_INFO", "/extra/path"},
	{"PATH_TRANSLATED", "/srv/www/extra/path"},
}

func BenchmarkParseParams(b *testing.B) {
	raw := AppendParams(nil, benchParams)
	dst := make([]Param, 0, len(benchParams))
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseParams(raw, dst[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRecordReader(b *testing.B) {
	stream := testRequest{keep: true, params: benchParams, body: make([]byte, 64<<10), chunks: []int{8192}}.bytes()
	src := &loopReader{data: stream}
	rr := NewRecordReader(src)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		src.off = 0
		for {
			if _, err := rr.Read(); err != nil {
				break
			}
		}
	}
}

// loopReader reads data once per reset of off.
type loopReader struct {
	data []byte
	off  int
}

func (r *loopReader) Read(p []byte) (int, error) {
	if r.off == len(r.data) {
		return 0, io.EOF
	}
	n := copy(p, r.data[r.off:])
	r.off += n
	return n, nil
}

// BenchmarkRequestRoundTrip serves one small GET at a time over one
// KEEP_CONN connection, as mod_proxy_fcgi with enablereuse=on does. The
// writes/op metric is the number of Write calls the server made per request.
func BenchmarkRequestRoundTrip(b *testing.B) {
	hello := []byte("Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nhello, world\n")
	s := &Server{Handler: HandlerFunc(func(w *Response, r *Request) uint32 {
		w.Write(hello)
		return 0
	})}
	req := testRequest{keep: true, params: benchParams}.bytes()
	for _, tr := range []string{"pipe", "unix"} {
		b.Run(tr, func(b *testing.B) {
			var cl net.Conn
			var counted *countingConn
			switch tr {
			case "pipe":
				var sv net.Conn
				cl, sv = net.Pipe()
				counted = &countingConn{Conn: sv}
				done := make(chan struct{})
				go func() {
					defer close(done)
					s.ServeConn(counted)
				}()
				defer func() { cl.Close(); <-done }()
			case "unix":
				dir, err := os.MkdirTemp("", "fcgi") // short: unix socket paths are limited
				if err != nil {
					b.Fatal(err)
				}
				defer os.RemoveAll(dir)
				l, err := net.Listen("unix", dir+"/s")
				if err != nil {
					b.Fatal(err)
				}
				srv := &Server{Handler: s.Handler}
				go srv.Serve(l)
				defer srv.Shutdown(context.Background())
				defer srv.Close()
				if cl, err = net.Dial("unix", l.Addr().String()); err != nil {
					b.Fatal(err)
				}
				defer cl.Close()
			}
			rr := NewRecordReader(cl)
			n := 0
			b.ReportAllocs()
			for b.Loop() {
				if _, err := cl.Write(req); err != nil {
					b.Fatal(err)
				}
				for {
					rec, err := rr.Read()
					if err != nil {
						b.Fatal(err)
					}
					if rec.Type == TypeEndRequest {
						break
					}
				}
				n++
			}
			if counted != nil {
				b.ReportMetric(float64(counted.writes.Load())/float64(n), "writes/op")
			}
		})
	}
}
