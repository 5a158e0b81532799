package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mpgate/mpgate/fcgi"
	"github.com/mpgate/mpgate/internal/apachetest"
	"github.com/mpgate/mpgate/internal/fcgitest"
)

// sessionDeadline bounds every wait of the session tests: for a session to
// expire (2 s), for a request after a worker died holding a lock. It only
// guards against a hang.
const sessionDeadline = 20 * time.Second

// sessionSite is the staged testdata/sessions site behind a preview.
type sessionSite struct {
	dir string // the staged site: htdocs/, sessdb/
	run string // the daemon's run directory
	srv *apachetest.Server
}

func newSessionSite(t *testing.T, via string, extra ...string) *sessionSite {
	t.Helper()
	dir, conf := stageSiteFrom(t, "testdata/sessions")
	srv, run := previewRunArgs(t, conf, via, extra...)
	return &sessionSite{dir: dir, run: filepath.Join(run, "run"), srv: srv}
}

// sessReply is what sess.py reports: "new=%d n=%d id=%s".
type sessReply struct {
	status int
	new    bool
	n      int
	id     string
	body   string
	cookie string // "name=value" of the response's (first) cookie, if any
	set    []string
}

// sessGet sends GET path to srv with cookie ("pysid=..." or "") and parses
// sess.py's report.
func sessGet(t *testing.T, srv *apachetest.Server, path, cookie string) sessReply {
	t.Helper()
	var hdr []string
	if cookie != "" {
		hdr = append(hdr, "Cookie: "+cookie)
	}
	r := srv.Get(t, path, hdr...)
	return parseSessReply(r.Status, r.Header["Set-Cookie"], string(r.Body))
}

func parseSessReply(status int, setCookie []string, body string) sessReply {
	rep := sessReply{status: status, body: body, set: setCookie}
	var isNew int
	if i := strings.Index(body, "new="); i >= 0 {
		fmt.Sscanf(body[i:], "new=%d n=%d id=%s", &isNew, &rep.n, &rep.id)
	}
	rep.new = isNew == 1
	if len(setCookie) > 0 {
		rep.cookie, _, _ = strings.Cut(setCookie[0], ";")
	}
	return rep
}

// mustSess fails unless rep is a 200 report with is_new new and counter n.
func mustSess(t *testing.T, what string, rep sessReply, isNew bool, n int) {
	t.Helper()
	if rep.status != 200 || rep.new != isNew || rep.n != n || !sidRE.MatchString(rep.id) {
		t.Fatalf("%s: %d %q, want 200 with new=%v n=%d and a session id", what, rep.status, rep.body, isNew, n)
	}
}

var sidRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// hammer sends total GET path requests over conns connections at once,
// request i with the cookie cookieOf(i), and fails the test for every
// answer that is not a 200 report.
func hammer(t *testing.T, srv *apachetest.Server, conns, total int, path string, cookieOf func(i int) string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, DisableCompression: true}, Timeout: sessionDeadline * 3}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	var mu sync.Mutex // guards failures
	var failures []string
	for g := 0; g < conns; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < total; i += conns {
				req, _ := http.NewRequest("GET", srv.URL+path, nil)
				req.Header.Set("Cookie", cookieOf(i))
				resp, err := client.Do(req)
				var body []byte
				if err == nil {
					body, _ = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(string(body), "new=0 ") {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("request %d: %v %q", i, err, body))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d of %d requests failed, first: %s", len(failures), total, failures[0])
	}
}

// TestSessions runs the mpgate-only session cases through Apache and
// mod_proxy_fcgi, with a lock wait of an hour: only the detection of a dead
// owner can release a lock in time.
func TestSessions(t *testing.T) {
	t.Parallel()
	s := newSessionSite(t, "proxy", "--session-lock-wait", "1h")

	t.Run("500 increments of one session over 50 connections", func(t *testing.T) {
		first := sessGet(t, s.srv, "/f/x?inc", "")
		mustSess(t, "first request", first, true, 1)
		hammer(t, s.srv, 50, 499, "/f/x?inc", func(int) string { return first.cookie })
		mustSess(t, "after 500 increments", sessGet(t, s.srv, "/f/x?peek", first.cookie), false, 500)
	})

	t.Run("500 increments of 50 sessions over 50 connections", func(t *testing.T) {
		const sessions = 50
		cookies := make([]string, sessions)
		for i := range cookies {
			r := sessGet(t, s.srv, "/d/x?inc", "")
			mustSess(t, "new session", r, true, 1)
			cookies[i] = r.cookie
		}
		// Connection g sends its requests for sessions g, g+1, ...: each
		// session is incremented by ten connections at once.
		hammer(t, s.srv, 50, 500, "/d/x?inc", func(i int) string { return cookies[(i%50+i/50)%sessions] })
		for i, c := range cookies {
			mustSess(t, "session "+strconv.Itoa(i), sessGet(t, s.srv, "/d/x?peek", c), false, 11)
		}
	})

	t.Run("worker killed holding the lock", func(t *testing.T) { killedWorkerCase(t, s) })

	t.Run("session across internal_redirect", func(t *testing.T) {
		r := sessGet(t, s.srv, "/f/x?redirect", "")
		if !strings.HasPrefix(r.body, "redirected from /f/x, same=True ") || r.cookie == "" {
			t.Fatalf("first redirect: body %q cookie %q; want the redirect target to continue the new session, with its cookie", r.body, r.cookie)
		}
		mustSess(t, "redirect target, new session", r, true, 1)
		again := sessGet(t, s.srv, "/f/x?redirect", r.cookie)
		mustSess(t, "redirect target, with the cookie", again, false, 2)
		if again.id != r.id {
			t.Fatalf("session id %s after the second redirect, want %s", again.id, r.id)
		}
	})

	t.Run("get_session and Session twice in one request", func(t *testing.T) {
		r := sessGet(t, s.srv, "/f/x?twice", "")
		if !strings.HasPrefix(r.body, "same=True ") {
			t.Fatalf("GET ?twice = %d %q, want one object for two req.get_session() and two Session(req)", r.status, r.body)
		}
		mustSess(t, "?twice", r, true, 1)
		if len(r.set) != 1 {
			t.Errorf("GET ?twice: Set-Cookie %q, want one cookie", r.set)
		}
		r2 := sessGet(t, s.srv, "/f/x?twice", r.cookie)
		mustSess(t, "?twice again", r2, false, 2)
		if !strings.HasPrefix(r2.body, "same=True ") || len(r2.set) != 0 {
			t.Fatalf("GET ?twice with the cookie = %q, Set-Cookie %q; want the same object and no cookie", r2.body, r2.set)
		}
	})

	t.Run("expiry", func(t *testing.T) {
		r := sessGet(t, s.srv, "/f/x?short", "")
		mustSess(t, "2 s session", r, true, 1)
		mustSess(t, "2 s session again", sessGet(t, s.srv, "/f/x?short", r.cookie), false, 2)
		deadline := time.Now().Add(sessionDeadline)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			// ?shortpeek does not save: the stored access time stays.
			p := sessGet(t, s.srv, "/f/x?shortpeek", r.cookie)
			if p.status != 200 {
				t.Fatalf("GET ?shortpeek = %d %q", p.status, p.body)
			}
			if p.new {
				if p.id == r.id || p.cookie == "" || p.cookie == r.cookie {
					t.Fatalf("expired session: id %s, cookie %q; want a new id (old %s) and its cookie", p.id, p.cookie, r.id)
				}
				break
			}
			if p.id != r.id || p.n != 2 {
				t.Fatalf("GET ?shortpeek before expiry = %q, want session %s with n=2", p.body, r.id)
			}
			if time.Now().After(deadline) {
				t.Fatalf("a 2 s session still alive after %v", sessionDeadline)
			}
			<-tick.C
		}
	})

	t.Run("invalidate", func(t *testing.T) {
		r := sessGet(t, s.srv, "/f/x?inc", "")
		mustSess(t, "new session", r, true, 1)
		inv := sessGet(t, s.srv, "/f/x?invalidate", r.cookie)
		if inv.status != 200 || len(inv.set) != 1 || inv.cookie != r.cookie ||
			!strings.Contains(inv.set[0], "expires=Thu, 01-Jan-1970 00:00:00 GMT") || !strings.Contains(inv.set[0], "path=/f") {
			t.Fatalf("GET ?invalidate: Set-Cookie %q, want %s expired in 1970 with path=/f", inv.set, r.cookie)
		}
		after := sessGet(t, s.srv, "/f/x?inc", r.cookie)
		mustSess(t, "after invalidate", after, true, 1)
		if after.id == r.id {
			t.Fatalf("invalidated session %s came back", r.id)
		}
	})

	t.Run("forged and malformed ids", func(t *testing.T) {
		for _, c := range []string{
			"pysid=0123456789abcdef0123456789abcdef", // well-formed, unknown
			"pysid=../../../../etc/passwd",
			"pysid=0123456789ABCDEF0123456789ABCDEF",
			"pysid=0123456789abcdef0123456789abcde",
			"pysid=",
		} {
			r := sessGet(t, s.srv, "/f/x?inc", c)
			mustSess(t, "Cookie: "+c, r, true, 1)
			if "pysid="+r.id == c || r.cookie != "pysid="+r.id {
				t.Fatalf("Cookie: %s: id %s, Set-Cookie %q; want a new id and its cookie", c, r.id, r.set)
			}
		}
	})

	t.Run("signed session with a tampered cookie", func(t *testing.T) {
		a := sessGet(t, s.srv, "/f/x?signed", "")
		b := sessGet(t, s.srv, "/f/x?signed", "")
		mustSess(t, "signed session a", a, true, 1)
		mustSess(t, "signed session b", b, true, 1)
		mustSess(t, "signed session a again", sessGet(t, s.srv, "/f/x?signed", a.cookie), false, 2)
		sigA, _ := strings.CutPrefix(a.cookie, "pysid=")
		if len(sigA) != 64 || sigA[32:] != a.id {
			t.Fatalf("signed cookie %q, want pysid=SIGNATURE(32 hex)%s", a.cookie, a.id)
		}
		// a's signature on b's id, a's id unsigned, a's id with a flipped
		// signature digit: each refused, so neither a's nor b's data shows.
		flip := "0"
		if sigA[0] == '0' {
			flip = "1"
		}
		for _, c := range []string{
			"pysid=" + sigA[:32] + b.id,
			"pysid=" + a.id,
			"pysid=" + flip + sigA[1:],
		} {
			r := sessGet(t, s.srv, "/f/x?signed", c)
			mustSess(t, "Cookie: "+c, r, true, 1)
			if r.id == a.id || r.id == b.id {
				t.Fatalf("Cookie: %s accepted: session %s", c, r.id)
			}
		}
		mustSess(t, "signed session a after the attempts", sessGet(t, s.srv, "/f/x?signed", a.cookie), false, 3)
	})

	t.Run("mpgate sessions list show delete purge", func(t *testing.T) {
		r := sessGet(t, s.srv, "/f/x?data", "")
		mustSess(t, "new session", r, true, 1)
		rep, out, err := control(t, s.run, "sessions", "list", "--json")
		if err != nil || !rep.OK || rep.Count < 50 || rep.Count != len(rep.Sessions) {
			t.Fatalf("mpgate sessions list --json: %v, count %d\n%s", err, rep.Count, tail(out, 2000))
		}
		found := false
		for _, si := range rep.Sessions {
			if si.ID == r.id {
				found = true
				if si.Timeout != 1800 || si.Size == 0 || !si.Expires.After(time.Now().Add(29*time.Minute)) {
					t.Errorf("sessions list: %+v, want timeout 1800 s, data, expiry in 30 min", si)
				}
			}
		}
		if !found {
			t.Fatalf("mpgate sessions list does not list %s", r.id)
		}
		text, err := exec.Command(mpgateBin, "sessions", "list", "--run-dir", s.run).CombinedOutput()
		if err != nil || !strings.HasPrefix(string(text), "ID ") || !strings.Contains(string(text), r.id+" ") ||
			!strings.Contains(string(text), fmt.Sprintf("%d session(s)\n", rep.Count)) {
			t.Fatalf("mpgate sessions list: %v\n%s", err, tail(string(text), 2000))
		}
		text, err = exec.Command(mpgateBin, "sessions", "show", "--run-dir", s.run, r.id).CombinedOutput()
		for _, want := range []string{"id        " + r.id, "timeout   1800s", "'count': 42", "'name': 'café str'", "'prefs': {'lang': 'fr', 'ids': [1, 2, 3]}", "'n': 1"} {
			if err != nil || !strings.Contains(string(text), want) {
				t.Fatalf("mpgate sessions show %s: %v; want %q in\n%s", r.id, err, want, text)
			}
		}
		text, err = exec.Command(mpgateBin, "sessions", "delete", "--run-dir", s.run, r.id).CombinedOutput()
		if err != nil || string(text) != "deleted\n" {
			t.Fatalf("mpgate sessions delete: %v %q", err, text)
		}
		mustSess(t, "deleted session", sessGet(t, s.srv, "/f/x?inc", r.cookie), true, 1)
		text, err = exec.Command(mpgateBin, "sessions", "delete", "--run-dir", s.run, r.id).CombinedOutput()
		if err == nil || !strings.Contains(string(text), r.id) {
			t.Fatalf("mpgate sessions delete of a deleted session: %v %q, want an error naming it", err, text)
		}
		text, err = exec.Command(mpgateBin, "sessions", "purge", "--run-dir", s.run).CombinedOutput()
		if err != nil || !regexp.MustCompile(`^\d+ expired session\(s\) removed\n$`).Match(text) {
			t.Fatalf("mpgate sessions purge: %v %q", err, text)
		}
	})
}

// killedWorkerCase: a worker that dies (SIGKILL) holding a session's lock
// does not keep the next request for that session waiting. The daemon must
// run with --session-lock-wait 1h: an answer within sessionDeadline means
// the lock went with its dead owner.
func killedWorkerCase(t *testing.T, s *sessionSite) {
	t.Helper()
	if args := daemonArgs(s.run); !strings.Contains(args, " --session-lock-wait 1h") {
		t.Fatalf("the daemon of %s runs as %q, want --session-lock-wait 1h (forwarded by preview)", s.run, args)
	}
	r := sessGet(t, s.srv, "/f/x?inc", "")
	mustSess(t, "new session", r, true, 1)
	if died := sessGet(t, s.srv, "/f/x?die", r.cookie); died.status < 500 {
		t.Fatalf("GET ?die = %d %q, want a 5xx (the worker killed itself)", died.status, died.body)
	}
	client := &http.Client{Timeout: sessionDeadline}
	req, _ := http.NewRequest("GET", s.srv.URL+"/f/x?inc", nil)
	req.Header.Set("Cookie", r.cookie)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("request after the worker died holding the lock: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	next := parseSessReply(resp.StatusCode, resp.Header["Set-Cookie"], string(b))
	mustSess(t, "request after the worker died", next, false, 2)
	if next.id != r.id {
		t.Fatalf("session id %s after the kill, want %s", next.id, r.id)
	}
}

// daemonArgs returns the command line (space-separated) of the `mpgate
// serve` running in run, or "" when there is none.
func daemonArgs(run string) string {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) > 1 && args[1] == "serve" && contains(args, run) && processAlive(atoiOr(e.Name())) {
			return strings.Join(args, " ")
		}
	}
	return ""
}

// TestSessionsFcgid: sessions through mod_fcgid (the relays start the
// daemon, with preview's --session-lock-wait): concurrent increments,
// req.get_session() twice, a worker killed holding the lock.
func TestSessionsFcgid(t *testing.T) {
	t.Parallel()
	s := newSessionSite(t, "fcgid", "--session-lock-wait", "1h")
	first := sessGet(t, s.srv, "/f/x?twice", "")
	mustSess(t, "first request", first, true, 1)
	if !strings.HasPrefix(first.body, "same=True ") {
		t.Fatalf("GET ?twice = %q, want one object", first.body)
	}
	hammer(t, s.srv, 10, 99, "/f/x?inc", func(int) string { return first.cookie })
	mustSess(t, "after 100 increments", sessGet(t, s.srv, "/f/x?peek", first.cookie), false, 100)
	killedWorkerCase(t, s)
}

// fcgiSess sends GET uri (under the site's /f) straight to the daemon's
// socket in run, as mod_proxy_fcgi would, and parses sess.py's report.
func fcgiSess(t *testing.T, dir, run, uri, cookie string) sessReply {
	t.Helper()
	c, err := net.Dial("unix", filepath.Join(run, "mpgate.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(sessionDeadline))
	path, _, _ := strings.Cut(uri, "?")
	var extra []fcgi.Param
	if cookie != "" {
		extra = append(extra, fcgi.Param{Name: "HTTP_COOKIE", Value: cookie})
	}
	rep, err := fcgitest.Do(c, &fcgitest.Request{Params: fcgitest.CGIParams("GET", uri, dir+"/htdocs"+path, path, "", extra...)})
	if err != nil {
		t.Fatalf("GET %s: %v", uri, err)
	}
	return parseSessReply(rep.Status, rep.Header["Set-Cookie"], string(rep.Body))
}

// TestSessionsSurviveDaemonRestart: a saved session is there after the
// daemon stops on SIGTERM and starts again on the same state directory, and
// after a SIGKILL right after the save returned (default --session-sync).
func TestSessionsSurviveDaemonRestart(t *testing.T) {
	t.Parallel()
	dir, conf := stageSiteFrom(t, "testdata/sessions")
	run := filepath.Join(dir, "run")
	cmd, exited := startServe(t, conf, run)
	r := fcgiSess(t, dir, run, "/f/x?inc", "")
	mustSess(t, "new session", r, true, 1)
	mustSess(t, "second request", fcgiSess(t, dir, run, "/f/x?inc", r.cookie), false, 2)

	cmd.Process.Signal(syscall.SIGTERM)
	<-exited
	cmd, exited = startServe(t, conf, run)
	mustSess(t, "after SIGTERM and restart", fcgiSess(t, dir, run, "/f/x?inc", r.cookie), false, 3)

	cmd.Process.Kill()
	<-exited
	startServe(t, conf, run)
	mustSess(t, "after SIGKILL and restart", fcgiSess(t, dir, run, "/f/x?inc", r.cookie), false, 4)
}

// sessionDiffSteps are the requests of the session differential, in order,
// each sent with the cookie of the step it names (-1: none, or a fixed one).
var sessionDiffSteps = []struct {
	query  string
	cookie int    // index of the step whose Set-Cookie is sent; -1 for none
	fixed  string // a cookie sent as is, when not empty
}{
	{query: "inc", cookie: -1},                                      // 0: a new session
	{query: "inc", cookie: 0},                                       // 1: the same session, not new
	{query: "peek", cookie: 0},                                      // 2: loaded, not saved
	{query: "invalidate", cookie: 0},                                // 3: the expired cookie
	{query: "inc", cookie: 0},                                       // 4: the invalidated id: a new session
	{query: "inc", fixed: "pysid=0123456789abcdef0123456789abcdef"}, // 5: forged
	{query: "inc", fixed: "pysid=../../etc/passwd"},                 // 6: malformed
	{query: "inc", fixed: "other=1; pysid=0123456789abcdef0123456789abcdeZ"},
}

// sessionDeliberateDiffs are the session requests where mpgate answers and
// mod_python 3.5 (on Python 3) fails, with the docs/compat.md line each
// matches. (Two Session(req) for one session in one request deadlock in
// mod_python, so that case is only run against mpgate, in TestSessions.)
var sessionDeliberateDiffs = []struct{ path, what, compat string }{
	{"/f/x?signed", "Session(req, secret=...)", "`Session(secret=…)`, `SignedCookie` and `MarshalCookie` work on Python 3 (3.5's are broken there)"},
	{"/f/x?twice", "req.get_session(), then Session(req) twice", "A second `Session(req)` ... returns the request's object instead of deadlocking (req.get_session(): issue 4, never released by mod_python)"},
}

// sidHex matches a session id (and the signature of a signed one) anywhere.
var sidHex = regexp.MustCompile(`[0-9a-f]{32}`)

// TestSessionsModPython runs sess.py under real mod_python 3.5 with
// FileSession and DbmSession and under mpgate (proxy), compares what a
// browser sees, then imports mod_python's stores into mpgate and continues
// the sessions there with the browser's cookies.
func TestSessionsModPython(t *testing.T) {
	t.Parallel()
	dir, conf, ref := referenceSite(t, "testdata/sessions")
	s := &sessionSite{dir: dir}
	var run string
	s.srv, run = previewRunArgs(t, conf, "proxy")
	s.run = filepath.Join(run, "run")

	for _, typ := range []struct{ name, dir, cookie string }{
		{"FileSession", "f", "pysid=@SID@; path=/f/"},
		{"DbmSession", "d", "pysid=@SID@; path=/d/"},
		{"cookie options", "o", "mysid=@SID@; path=/o/app; domain=example.test"},
		{"cookie options (3.2 names)", "o32", "oldsid=@SID@; path=/o32/app"},
	} {
		t.Run("differential "+typ.name, func(t *testing.T) {
			compareSessionSteps(t, ref, s.srv, "/"+typ.dir+"/x?", typ.cookie)
		})
	}

	// Where mpgate deliberately differs, each with the docs/compat.md line
	// it matches: mod_python fails the request, mpgate serves it.
	t.Run("deliberate differences", func(t *testing.T) {
		for _, d := range sessionDeliberateDiffs {
			want, have := sessGet(t, ref, d.path, ""), sessGet(t, s.srv, d.path, "")
			if want.status != 500 || have.status != 200 || !have.new {
				t.Errorf("GET %s (%s): mod_python %d, mpgate %d %q; want 500 and a new session (compat.md: %s)",
					d.path, d.what, want.status, have.status, have.body, d.compat)
			}
		}
	})

	for _, typ := range []struct{ name, dir, kind, store string }{
		{"FileSession", "f", "files", "sessdb/mp_sess"},
		{"DbmSession", "d", "dbm", "sessdb/mp_sess.dbm"},
	} {
		t.Run("import "+typ.name, func(t *testing.T) {
			path := "/" + typ.dir + "/x?"
			r := sessGet(t, ref, path+"data", "")
			mustSess(t, "mod_python: new session", r, true, 1)
			mustSess(t, "mod_python: the session again", sessGet(t, ref, path+"inc", r.cookie), false, 2)
			out, err := exec.Command(mpgateBin, "sessions", "import", "--run-dir", s.run, typ.kind, filepath.Join(dir, typ.store)).CombinedOutput()
			if err != nil || !regexp.MustCompile(`^[1-9]\d* session\(s\) imported, \d+ skipped`).Match(out) {
				t.Fatalf("mpgate sessions import %s: %v %q", typ.kind, err, out)
			}
			show := sessGet(t, s.srv, path+"show", r.cookie)
			wantData := `new=0 data=[('count', 42), ('n', 2), ('name', 'café str'), ('prefs', {'lang': 'fr', 'ids': [1, 2, 3]})]`
			if show.status != 200 || show.body != wantData || len(show.set) != 0 {
				t.Fatalf("mpgate: GET %sshow with mod_python's cookie = %d %q, Set-Cookie %q; want %q", path, show.status, show.body, show.set, wantData)
			}
			next := sessGet(t, s.srv, path+"inc", r.cookie)
			mustSess(t, "mpgate: mod_python's session continued", next, false, 3)
			if next.id != r.id {
				t.Fatalf("mpgate: session %s, want mod_python's %s", next.id, r.id)
			}
		})
	}
}

// compareSessionSteps sends sessionDiffSteps (prefix + step.query, each with the cookie the step
// names) to mod_python (ref) and mpgate (got), and compares status, body and Set-Cookie with
// session ids masked. firstCookie is mod_python's first Set-Cookie, masked: the check that the
// sequence really makes a session.
func compareSessionSteps(t *testing.T, ref, got *apachetest.Server, prefix, firstCookie string) {
	t.Helper()
	var refCookies, gotCookies []string
	mask := func(v string) string { return sidHex.ReplaceAllString(v, "@SID@") }
	for i, step := range sessionDiffSteps {
		cookie := func(cookies []string) string {
			switch {
			case step.fixed != "":
				return step.fixed
			case step.cookie >= 0:
				return cookies[step.cookie]
			}
			return ""
		}
		path := prefix + step.query
		want := sessGet(t, ref, path, cookie(refCookies))
		have := sessGet(t, got, path, cookie(gotCookies))
		refCookies, gotCookies = append(refCookies, want.cookie), append(gotCookies, have.cookie)
		w := fmt.Sprintf("%d %q %q", want.status, mask(want.body), mask(strings.Join(want.set, "\n")))
		h := fmt.Sprintf("%d %q %q", have.status, mask(have.body), mask(strings.Join(have.set, "\n")))
		if i == 0 && mask(strings.Join(want.set, "\n")) != firstCookie {
			t.Errorf("mod_python's first Set-Cookie %q, want %q", want.set, firstCookie)
		}
		if w != h {
			t.Errorf("step %d: GET %s (Cookie %q): mpgate answered %s, mod_python %s", i, path, cookie(gotCookies), h, w)
		}
	}
}
