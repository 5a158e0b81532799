// Package fcgitest is a small FastCGI client (the web server's side) for
// tests: it sends one request as Apache's mod_proxy_fcgi does and collects
// the CGI response, the STDERR lines and END_REQUEST.
package fcgitest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/mpgate/mpgate/fcgi"
)

// Reply is what the application answered.
type Reply struct {
	Status    int    // from the Status header (200 when absent)
	Reason    string // the Status header's text after the number
	Header    textproto.MIMEHeader
	Body      []byte
	Stderr    []string // STDERR records, one entry per record
	AppStatus uint32
	Raw       []byte // STDOUT as received
}

// Request describes one request. Params are sent in order; Body (if any) as
// STDIN records of ChunkSize bytes (default 8000, as Apache's odd sizes).
type Request struct {
	Role      fcgi.Role // default RoleResponder
	KeepConn  bool
	Params    []fcgi.Param
	Body      []byte
	ChunkSize int
	NoStdin   bool // send no STDIN record at all (authorizers)
}

// CGIParams returns the params Apache would send for a simple request.
func CGIParams(method, uri, scriptFilename, scriptName, pathInfo string, extra ...fcgi.Param) []fcgi.Param {
	path, query, _ := strings.Cut(uri, "?")
	_ = path
	ps := []fcgi.Param{
		{Name: "GATEWAY_INTERFACE", Value: "CGI/1.1"},
		{Name: "SERVER_SOFTWARE", Value: "Apache/2.4 (Debian)"},
		{Name: "SERVER_NAME", Value: "127.0.0.1"},
		{Name: "SERVER_ADDR", Value: "127.0.0.1"},
		{Name: "SERVER_PORT", Value: "8080"},
		{Name: "REMOTE_ADDR", Value: "127.0.0.1"},
		{Name: "REMOTE_PORT", Value: "40000"},
		{Name: "SERVER_PROTOCOL", Value: "HTTP/1.1"},
		{Name: "REQUEST_METHOD", Value: method},
		{Name: "QUERY_STRING", Value: query},
		{Name: "REQUEST_URI", Value: uri},
		{Name: "SCRIPT_NAME", Value: scriptName},
		{Name: "SCRIPT_FILENAME", Value: scriptFilename},
		{Name: "HTTP_HOST", Value: "127.0.0.1:8080"},
		{Name: "SERVER_ADMIN", Value: "webmaster@localhost"},
		{Name: "SERVER_SIGNATURE", Value: "<address>Apache Server at 127.0.0.1 Port 8080</address>\n"},
	}
	if pathInfo != "" {
		ps = append(ps, fcgi.Param{Name: "PATH_INFO", Value: pathInfo})
	}
	return append(ps, extra...)
}

// Do sends r on c (request id 1) and reads the reply up to END_REQUEST.
func Do(c net.Conn, r *Request) (*Reply, error) {
	role := r.Role
	if role == 0 {
		role = fcgi.RoleResponder
	}
	var b []byte
	b = fcgi.AppendBeginRequest(b, 1, role, r.KeepConn)
	b = fcgi.AppendRecord(b, fcgi.TypeParams, 1, fcgi.AppendParams(nil, r.Params))
	b = fcgi.AppendRecord(b, fcgi.TypeParams, 1, nil)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(b)
		if err == nil && !r.NoStdin {
			n := r.ChunkSize
			if n <= 0 {
				n = 8000
			}
			body := r.Body
			for len(body) > 0 && err == nil {
				k := min(n, len(body))
				_, err = c.Write(fcgi.AppendRecord(nil, fcgi.TypeStdin, 1, body[:k]))
				body = body[k:]
			}
			if err == nil {
				_, err = c.Write(fcgi.AppendRecord(nil, fcgi.TypeStdin, 1, nil))
			}
		}
		errc <- err
	}()
	rep := &Reply{}
	rr := fcgi.NewRecordReader(c)
	var stdout bytes.Buffer
	for {
		rec, err := rr.Read()
		if err != nil {
			return nil, fmt.Errorf("read reply: %w", err)
		}
		switch rec.Type {
		case fcgi.TypeStdout:
			stdout.Write(rec.Content)
		case fcgi.TypeStderr:
			if len(rec.Content) > 0 {
				rep.Stderr = append(rep.Stderr, string(rec.Content))
			}
		case fcgi.TypeEndRequest:
			if len(rec.Content) >= 4 {
				rep.AppStatus = uint32(rec.Content[0])<<24 | uint32(rec.Content[1])<<16 | uint32(rec.Content[2])<<8 | uint32(rec.Content[3])
			}
			if err := <-errc; err != nil {
				return nil, fmt.Errorf("send request: %w", err)
			}
			rep.Raw = stdout.Bytes()
			return rep, rep.parse()
		}
	}
}

// parse splits the CGI response into status, header and body.
func (rep *Reply) parse() error {
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(rep.Raw)))
	h, err := tp.ReadMIMEHeader()
	if err != nil && err != io.EOF {
		return fmt.Errorf("parse CGI header: %w (raw %q)", err, rep.Raw)
	}
	rep.Header = h
	rep.Status = 200
	if s := h.Get("Status"); s != "" {
		num, reason, _ := strings.Cut(s, " ")
		rep.Status, err = strconv.Atoi(num)
		if err != nil {
			return fmt.Errorf("bad Status header %q", s)
		}
		rep.Reason = reason
	}
	if i := bytes.Index(rep.Raw, []byte("\r\n\r\n")); i >= 0 {
		rep.Body = rep.Raw[i+4:]
	}
	return nil
}
