package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mpgate/mpgate/internal/apachetest"
)

// mixedSite is testdata/sessmigrate on one private Apache: real mod_python
// serves /f/ and /d/, mpgate the migrated /fg/ and /dg/ (with the same
// session options) through via: "proxy" (an `mpgate serve` daemon behind
// mod_proxy_fcgi) or "fcgid" (mod_fcgid's relays, which start the daemon).
type mixedSite struct {
	dir string // the staged site: htdocs/, lib/, sessdb/
	run string // the daemon's run directory
	srv *apachetest.Server
}

func newMixedSite(t *testing.T, via string) *mixedSite {
	t.Helper()
	dir, conf := stageSiteFrom(t, "testdata/sessmigrate")
	run := filepath.Join(dir, "run")
	if err := os.Mkdir(run, 0o755); err != nil {
		t.Fatal(err)
	}
	apachetest.Chown(t, run)
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	var handler, server string
	switch via {
	case "proxy":
		handler = fmt.Sprintf("SetHandler \"proxy:unix:%s/mpgate.sock|fcgi://mpgate\"\n"+
			"    ProxyFCGIBackendType GENERIC\n    SetEnv ap_trust_cgilike_cl 1\n    CGIPassAuth On", run)
		server = fmt.Sprintf("Define MPGATE_RUN %s\nInclude %s\n", run, snippetPath(t, "mpgate-proxy.conf"))
	case "fcgid":
		handler = fmt.Sprintf("SetHandler fcgid-script\n    Options +ExecCGI\n"+
			"    FcgidWrapper \"%s fcgid --config %s --run-dir %s\" virtual\n    CGIPassAuth On", mpgateBin, conf, run)
		server = fmt.Sprintf("Define MPGATE_BIN %s\nDefine MPGATE_CONFIG %s\nDefine MPGATE_RUN %s\nInclude %s\n",
			mpgateBin, conf, run, snippetPath(t, "mpgate-fcgid.conf"))
	default:
		t.Fatalf("newMixedSite: via %q", via)
	}
	site := strings.ReplaceAll(string(b), "@MPGATE_HANDLER@", handler)
	if err := os.WriteFile(conf, []byte(site), 0o644); err != nil {
		t.Fatal(err)
	}
	if via == "proxy" {
		startServe(t, conf, run)
	} else {
		// After Apache has stopped (cleanups run last first), so that no
		// relay starts the daemon again: stop the one the relays started.
		t.Cleanup(func() {
			out, err := exec.Command(mpgateBin, "stop", "--run-dir", run).CombinedOutput()
			if err != nil && !strings.Contains(string(out), "no mpgate daemon is running") {
				t.Errorf("mpgate stop --run-dir %s: %v %s", run, err, out)
			}
		})
	}
	srv := apachetest.Start(t, apachetest.Options{Modules: []string{"python"}, Config: server + site})
	return &mixedSite{dir: dir, run: run, srv: srv}
}

// snippetPath is the absolute path of apache-conf/name.
func snippetPath(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "apache-conf", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// migReply is what lib/sess.py reports: "new=%d id=%s user=%s n=%d".
type migReply struct {
	status int
	new    bool
	id     string
	user   string
	n      int
	body   string
	set    []string // Set-Cookie
}

var migRE = regexp.MustCompile(`^new=([01]) id=([0-9a-f]{32}) user=(\S+) n=(\d+)$`)

// get sends GET path with the session cookie of sid ("" for none).
func (m *mixedSite) get(t *testing.T, path, sid string) migReply {
	t.Helper()
	var hdr []string
	if sid != "" {
		hdr = append(hdr, "Cookie: pysid="+sid)
	}
	r := m.srv.Get(t, path, hdr...)
	rep := migReply{status: r.Status, body: string(r.Body), set: r.Header["Set-Cookie"]}
	if mm := migRE.FindStringSubmatch(rep.body); mm != nil {
		rep.new, rep.id, rep.user = mm[1] == "1", mm[2], mm[3]
		fmt.Sscan(mm[4], &rep.n)
	}
	return rep
}

// must fails unless rep is a 200 report of session sid ("" for a new one)
// with user and n, sent without a Set-Cookie unless it is new.
func must(t *testing.T, what string, rep migReply, sid, user string, n int) {
	t.Helper()
	isNew := sid == ""
	ok := rep.status == 200 && rep.id != "" && rep.new == isNew && rep.user == user && rep.n == n
	if ok && !isNew {
		ok = rep.id == sid && len(rep.set) == 0
	}
	if ok && isNew {
		ok = len(rep.set) == 1 && strings.HasPrefix(rep.set[0], "pysid="+rep.id+"; ") && strings.Contains(rep.set[0], "path=/")
	}
	if !ok {
		want := "a new session"
		if !isNew {
			want = "session " + sid + " and no Set-Cookie"
		}
		t.Fatalf("%s: %d %q (Set-Cookie %q); want 200 with %s, user=%s n=%d", what, rep.status, rep.body, rep.set, want, user, n)
	}
}

// TestSessionMigration: a browser crosses a site half served by real
// mod_python 3.5 and half by mpgate with one pysid cookie, for FileSession
// and DbmSession (README, "Sessions during a gradual migration"): mpgate
// takes a session over from mod_python's store on first sight, keeping the
// cookie; from then on mpgate's copy is the one mpgate uses, and
// mod_python's half keeps seeing its own, older copy; a session deleted or
// expired in mpgate is not brought back from mod_python's; an expired
// mod_python session is not taken; forged ids, corrupt files and records
// start a new session, the refusal logged naming the file.
func TestSessionMigration(t *testing.T) {
	t.Parallel()
	for _, via := range []string{"proxy", "fcgid"} {
		t.Run(via, func(t *testing.T) {
			t.Parallel()
			sessionMigrationCases(t, newMixedSite(t, via))
		})
	}
}

func sessionMigrationCases(t *testing.T, m *mixedSite) {

	for _, typ := range []struct{ name, mp, gate, kind, store string }{
		{"FileSession", "/f/x", "/fg/x", "files", "sessdb/mp_sess"},
		{"DbmSession", "/d/x", "/dg/x", "dbm", "sessdb/mp_sess.dbm"},
	} {
		t.Run(typ.name, func(t *testing.T) {
			// Logged in on mod_python's half.
			login := m.get(t, typ.mp+"?login=alice", "")
			must(t, "mod_python: login", login, "", "alice", 0)
			sid := login.id
			must(t, "mod_python: inc", m.get(t, typ.mp+"?inc", sid), sid, "alice", 1)

			// mpgate's half: the same session, the same cookie.
			must(t, "mpgate: first sight", m.get(t, typ.gate+"?show", sid), sid, "alice", 1)
			must(t, "mpgate: inc", m.get(t, typ.gate+"?inc", sid), sid, "alice", 2)
			must(t, "mpgate: login as bob", m.get(t, typ.gate+"?login=bob", sid), sid, "bob", 2)

			// mod_python's half still has its copy as it was at the take-over.
			must(t, "mod_python: after mpgate's changes", m.get(t, typ.mp+"?show", sid), sid, "alice", 1)
			must(t, "mod_python: inc its copy", m.get(t, typ.mp+"?inc", sid), sid, "alice", 2)
			must(t, "mpgate: after mod_python's change", m.get(t, typ.gate+"?show", sid), sid, "bob", 2)

			// Logged out on mpgate: mod_python's live copy does not bring it back,
			// neither on the next request nor through a bulk import.
			if r := m.get(t, typ.gate+"?logout", sid); r.status != 200 || r.body != "logged out" {
				t.Fatalf("mpgate: logout: %d %q", r.status, r.body)
			}
			must(t, "mod_python: after mpgate's logout", m.get(t, typ.mp+"?show", sid), sid, "alice", 2)
			must(t, "mpgate: after its logout", m.get(t, typ.gate+"?show", sid), "", "None", 0)
			out, err := exec.Command(mpgateBin, "sessions", "import", "--run-dir", m.run, typ.kind, filepath.Join(m.dir, typ.store)).CombinedOutput()
			if err != nil || !regexp.MustCompile(`^\d+ session\(s\) imported, [1-9]\d* skipped`).Match(out) {
				t.Fatalf("mpgate sessions import %s: %v %q", typ.kind, err, out)
			}
			must(t, "mpgate: after a bulk import", m.get(t, typ.gate+"?show", sid), "", "None", 0)

			// Expired in mpgate: not brought back either.
			login = m.get(t, typ.mp+"?login=carol", "")
			must(t, "mod_python: login", login, "", "carol", 0)
			sid = login.id
			must(t, "mpgate: first sight", m.get(t, typ.gate+"?show", sid), sid, "carol", 0)
			must(t, "mpgate: expire", m.get(t, typ.gate+"?expire", sid), sid, "carol", 0)
			must(t, "mpgate: after expiry", m.get(t, typ.gate+"?show", sid), "", "None", 0)
			must(t, "mod_python: its copy", m.get(t, typ.mp+"?show", sid), sid, "carol", 0)

			// Expired in mod_python: not taken over.
			login = m.get(t, typ.mp+"?login=dave", "")
			sid = login.id
			must(t, "mod_python: expire", m.get(t, typ.mp+"?expire", sid), sid, "dave", 0)
			must(t, "mpgate: an expired mod_python session", m.get(t, typ.gate+"?show", sid), "", "None", 0)
			rep, text, err := control(t, m.run, "sessions", "list", "--json")
			if err != nil || !rep.OK {
				t.Fatalf("mpgate sessions list: %v\n%s", err, text)
			}
			for _, s := range rep.Sessions {
				if s.ID == sid {
					t.Fatalf("mpgate took over the expired session %s", sid)
				}
			}
		})
	}

	t.Run("forged and malformed ids", func(t *testing.T) {
		for _, gate := range []string{"/fg/x", "/dg/x"} {
			for _, bad := range []string{"0123456789abcdef0123456789abcdef", "../../etc/passwd", "ABCDEF0123456789ABCDEF0123456789"} {
				must(t, "mpgate: GET "+gate+" with pysid="+bad, m.get(t, gate+"?show", bad), "", "None", 0)
			}
		}
	})

	// A corrupt record in mod_python's store: a new session, and a log line
	// naming the file with the id cut to 8 digits.
	t.Run("corrupt FileSession file", func(t *testing.T) {
		for _, c := range []struct {
			sid, content, why string
		}{
			{"abcdef12" + strings.Repeat("0", 24), "not a pickle at all", "not a pickle"},
			{"abcdef13" + strings.Repeat("0", 24), "\x80\x02}q\x00(X\x05\x00\x00\x00_data", "not a pickle"}, // cut short
			{"abcdef14" + strings.Repeat("0", 24), strings.Repeat("x", 1<<20+1), "1048577 bytes, more than the limit of 1048576"},
		} {
			sub := filepath.Join(m.dir, "sessdb", "mp_sess", c.sid[:2])
			if err := os.MkdirAll(sub, 0o750); err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(sub, c.sid)
			if err := os.WriteFile(file, []byte(c.content), 0o644); err != nil {
				t.Fatal(err)
			}
			apachetest.Chown(t, filepath.Join(m.dir, "sessdb"))
			must(t, "mpgate: a corrupt session file", m.get(t, "/fg/x?show", c.sid), "", "None", 0)
			m.srv.WaitLog(t, fmt.Sprintf("mod_python's session record %s/%s... refused: %s", sub, c.sid[:8], c.why), sessionDeadline)
		}
		if b, _ := os.ReadFile(m.srv.ErrorLogPath); strings.Contains(string(b), "abcdef12"+strings.Repeat("0", 24)) {
			t.Fatalf("the error log has a whole session id")
		}
	})

	t.Run("corrupt DbmSession record", func(t *testing.T) {
		sid := "abcdef15" + strings.Repeat("0", 24)
		store := filepath.Join(m.dir, "sessdb", "mp_sess.dbm")
		// Into the file mod_python made (or a new one, when this case runs alone).
		py := fmt.Sprintf("import dbm; db = dbm.open(%q, 'c', 0o640); db[%q] = b'garbage'; db.close()", store, sid)
		if out, err := exec.Command("/usr/bin/python3", "-c", py).CombinedOutput(); err != nil {
			t.Fatalf("writing a bad record: %v %s", err, out)
		}
		apachetest.Chown(t, filepath.Join(m.dir, "sessdb"))
		must(t, "mpgate: a corrupt dbm record", m.get(t, "/dg/x?show", sid), "", "None", 0)
		m.srv.WaitLog(t, fmt.Sprintf("mod_python's session record %s, key %s... refused: not a pickle", store, sid[:8]), sessionDeadline)
	})
}
