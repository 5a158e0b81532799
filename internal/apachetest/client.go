// This file is the HTTP client side: requests to a Server and the responses as received.

package apachetest

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// clientTimeout bounds one request, body included.
const clientTimeout = 2 * time.Minute

// Response is a complete response as a client received it.
type Response struct {
	Status int
	// Header holds the response headers, Content-Length and Transfer-Encoding included as received.
	Header http.Header
	Body   []byte
	Proto  string // "HTTP/1.1"
}

// newClient returns a client of one server. It keeps connections alive only within the server's
// test, never follows redirects, and asks for no compression (Go would otherwise add
// Accept-Encoding: gzip and decode the body behind the test's back).
func newClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
			DisableCompression:    true,
			ResponseHeaderTimeout: clientTimeout,
			MaxIdleConnsPerHost:   4,
			// Apache closes a keep-alive connection after KeepAliveTimeout (5 s by default);
			// a POST sent on one it is closing fails with EOF and, not being idempotent, is
			// not retried. Closing idle connections first keeps that race away.
			IdleConnTimeout: 2 * time.Second,
		},
		Timeout: clientTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Get sends GET path (a request target such as "/mp/hello?x=1") to the server. Each hdr is
// "Name: value"; "Host: name" sets the Host header. It fails the test if the request fails.
func (s *Server) Get(t testing.TB, path string, hdr ...string) *Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, path, nil)
	if err != nil {
		t.Fatalf("apachetest: GET %s: %v", path, err)
	}
	for _, h := range hdr {
		name, value, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" {
			t.Fatalf("apachetest: GET %s: header %q is not \"Name: value\"", path, h)
		}
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if strings.EqualFold(name, "Host") {
			req.Host = value
		} else {
			req.Header.Add(name, value)
		}
	}
	return s.Do(t, req)
}

// Do sends req to the server, whatever host its URL names (a bare path will do), and reads the
// whole response. req is not modified; its body is consumed. It fails the test if the request
// fails or the body cannot be read in full.
func (s *Server) Do(t testing.TB, req *http.Request) *Response {
	t.Helper()
	r := req.Clone(req.Context())
	r.URL.Scheme = "http"
	r.URL.Host = "127.0.0.1:" + strconv.Itoa(s.Port)
	r.RequestURI = ""
	resp, err := s.client.Do(r)
	if err != nil {
		t.Fatalf("apachetest: %s %s: %v", req.Method, r.URL.RequestURI(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("apachetest: %s %s: %d response: read body: %v", req.Method, r.URL.RequestURI(), resp.StatusCode, err)
	}
	h := resp.Header.Clone()
	if len(resp.TransferEncoding) > 0 {
		h["Transfer-Encoding"] = resp.TransferEncoding // net/http moves it out of Header
	}
	return &Response{Status: resp.StatusCode, Header: h, Body: body, Proto: resp.Proto}
}

// Remote returns a Server for an HTTP server started by other means (mpgate
// preview, say) on 127.0.0.1:port, for Get, Do and Compare. root, if not
// empty, is what Compare normalises to "@ROOT@" in its responses. Start and
// Stop do not apply to it.
func Remote(port int, root string) *Server {
	return &Server{Root: root, Port: port, URL: "http://127.0.0.1:" + strconv.Itoa(port), client: newClient()}
}
