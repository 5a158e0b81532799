// This file is the client side of a run: connections that each send one
// request at a time (closed loop) over keep-alive HTTP/1.1, recording every
// request they make.

package main

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxBodyBytes bounds the body read from one response; the handlers measured
// write a few bytes, a traceback page a few kB.
const maxBodyBytes = 1 << 20

// retryPause is the time a connection waits after a transport error before it
// dials again, so that a refusing server does not turn the loop into a spin.
const retryPause = 5 * time.Millisecond

// A sample is one request as its client saw it. Times are since the load's
// start; Sent is taken before the request is written (before the dial when
// the connection had to be opened), Recv after the whole body was read or the
// request failed.
type sample struct {
	Conn   int
	Sent   time.Duration
	Recv   time.Duration
	Status int    // 0: transport error (no complete response)
	Value  int64  // the last number in a 200 response's body; -1 if none
	Err    string // the transport error
}

func (s sample) ok() bool { return s.Status == http.StatusOK }

// A load is conns connections, each sending one request after the other to
// one URL until stop is called. Nothing it records is read before stop
// returns, except through max and raised.
type load struct {
	addr    string
	req     []byte
	start   time.Time
	timeout time.Duration

	done chan struct{} // closed by stop
	wg   sync.WaitGroup
	per  [][]sample // per connection, each written by its connection's goroutine only

	max    atomic.Int64  // highest Value a 200 response showed so far, -1 before one
	raised chan struct{} // gets a token (capacity 1) whenever max rises
}

// startLoad starts conns connections to rawURL (http only); timeout bounds
// each request.
func startLoad(rawURL string, conns int, timeout time.Duration) (*load, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("url %q: want http://HOST[:PORT]/PATH", rawURL)
	}
	if conns < 1 {
		return nil, fmt.Errorf("-c %d: want at least 1 connection", conns)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	l := &load{
		addr:    addr,
		req:     []byte("GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUser-Agent: reloadbench\r\n\r\n"),
		start:   time.Now(),
		timeout: timeout,
		done:    make(chan struct{}),
		per:     make([][]sample, conns),
		raised:  make(chan struct{}, 1),
	}
	l.max.Store(-1)
	for i := range conns {
		l.wg.Add(1)
		go l.run(i)
	}
	return l, nil
}

// since returns the time since the load's start.
func (l *load) since() time.Duration { return time.Since(l.start) }

// stop ends the load: every connection finishes the request it is in, then
// stop returns all samples, ordered by send time.
func (l *load) stop() []sample {
	close(l.done)
	l.wg.Wait()
	var all []sample
	for _, p := range l.per {
		all = append(all, p...)
	}
	slices.SortFunc(all, func(a, b sample) int { return cmp.Compare(a.Sent, b.Sent) })
	return all
}

// waitMax waits until a 200 response has shown a value of at least v, or
// until timeout; it reports whether one did.
func (l *load) waitMax(v int64, timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for l.max.Load() < v {
		select {
		case <-l.raised:
		case <-t.C:
			return l.max.Load() >= v
		}
	}
	return true
}

// run is connection id's loop.
func (l *load) run(id int) {
	defer l.wg.Done()
	var (
		c  net.Conn
		br *bufio.Reader
	)
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for {
		select {
		case <-l.done:
			return
		default:
		}
		s := sample{Conn: id, Sent: l.since(), Value: -1}
		var err error
		if c == nil {
			if c, err = net.DialTimeout("tcp", l.addr, l.timeout); err != nil {
				c = nil
			} else {
				br = bufio.NewReader(c)
			}
		}
		keep := false
		if err == nil {
			var body []byte
			s.Status, body, keep, err = l.roundTrip(c, br)
			if err == nil && s.ok() {
				s.Value = lastNumber(body)
			}
		}
		s.Recv = l.since()
		if err != nil {
			s.Status, s.Err = 0, err.Error()
		}
		l.per[id] = append(l.per[id], s)
		if s.Value >= 0 {
			l.raise(s.Value)
		}
		if err != nil || !keep {
			if c != nil {
				c.Close()
				c = nil
			}
		}
		if err != nil {
			select {
			case <-l.done:
				return
			case <-time.After(retryPause):
			}
		}
	}
}

// raise records that a response showed v.
func (l *load) raise(v int64) {
	for {
		m := l.max.Load()
		if v <= m {
			return
		}
		if l.max.CompareAndSwap(m, v) {
			select {
			case l.raised <- struct{}{}:
			default:
			}
			return
		}
	}
}

// roundTrip sends one request on c and reads its response.
func (l *load) roundTrip(c net.Conn, br *bufio.Reader) (status int, body []byte, keep bool, err error) {
	c.SetDeadline(time.Now().Add(l.timeout))
	if _, err := c.Write(l.req); err != nil {
		return 0, nil, false, err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, nil, false, err
	}
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes))
	resp.Body.Close()
	if err != nil {
		return 0, nil, false, err
	}
	return resp.StatusCode, body, !resp.Close, nil
}

// lastNumber returns the last whitespace-separated field of body as a
// non-negative integer, or -1.
func lastNumber(body []byte) int64 {
	f := strings.Fields(string(body))
	if len(f) == 0 {
		return -1
	}
	n, err := strconv.ParseInt(f[len(f)-1], 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// writeRaw writes samples as TSV to path (nothing when path is empty).
func writeRaw(path string, samples []sample) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintf(w, "conn\tsent_ms\trecv_ms\tstatus\tvalue\terror\n")
	for _, s := range samples {
		fmt.Fprintf(w, "%d\t%.3f\t%.3f\t%d\t%d\t%s\n", s.Conn, ms(s.Sent), ms(s.Recv), s.Status, s.Value, s.Err)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// totals summarises the requests of a whole run.
type totals struct {
	Conns      int            `json:"conns"`
	Requests   int            `json:"requests"`
	DurationS  float64        `json:"duration_s"`
	RPS        float64        `json:"rps"`
	Failed     int            `json:"failed"`           // non-200 responses and transport errors
	Transport  int            `json:"transport_errors"` // of Failed: no complete response
	NoValue    int            `json:"no_value"`         // 200 responses without a number in the body
	Statuses   map[string]int `json:"statuses"`         // every status seen, "0" for transport errors
	FirstError string         `json:"first_error,omitempty"`
	RequestMS  quantiles      `json:"request_ms"` // receive minus send time of the 200 responses
}

func summarise(samples []sample, conns int, dur time.Duration) totals {
	t := totals{Conns: conns, Requests: len(samples), DurationS: dur.Seconds(), Statuses: map[string]int{}}
	var lat []time.Duration
	for _, s := range samples {
		if s.ok() {
			lat = append(lat, s.Recv-s.Sent)
		}
		t.Statuses[strconv.Itoa(s.Status)]++
		if !s.ok() {
			t.Failed++
		} else if s.Value < 0 {
			t.NoValue++
		}
		if s.Status == 0 {
			t.Transport++
			if t.FirstError == "" {
				t.FirstError = s.Err
			}
		}
	}
	if dur > 0 {
		t.RPS = round(float64(len(samples))/dur.Seconds(), 1)
	}
	t.DurationS = round(t.DurationS, 3)
	t.RequestMS = quantilesOf(lat)
	return t
}

// ms returns d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// round rounds x to n decimals.
func round(x float64, n int) float64 {
	p := math.Pow(10, float64(n))
	return math.Round(x*p) / p
}

// quantiles of sorted values in milliseconds, by nearest rank: the p-quantile
// of n values is the ceil(p*n)-th smallest (of 50 values, p99 is the largest).
type quantiles struct {
	N   int     `json:"n"`
	Min float64 `json:"min"`
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func quantilesOf(ds []time.Duration) quantiles {
	if len(ds) == 0 {
		return quantiles{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return round(ms(s[max(0, i)]), 3)
	}
	return quantiles{N: len(s), Min: rank(0), P50: rank(0.5), P90: rank(0.9), P99: rank(0.99), Max: rank(1)}
}
