package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mpgate/mpgate/internal/apachetest"
)

// This file tests `mpgate migrate` end to end on a copy of a Debian /etc/apache2 tree serving a
// mod_python site through real mod_python, step by step as a sysadmin would (one section, the
// rest, mod_python disabled, revert), and `mpgate preview` on a site whose .htaccess files hold
// raw Python* lines.

// migrateWho is each section's handler: it says who runs it (mpgate's worker or mod_python),
// the section's marker option and the URI.
const migrateWho = `import sys
from mod_python import apache


def handler(req):
    req.content_type = "text/plain"
    who = "mpgate" if any(m == "mpgate" or m.startswith("mpgate.") for m in sys.modules) else "mod_python"
    req.write("%s %s %s\n" % (who, req.get_options().get("marker", "-"), req.uri))
    return apache.OK
`

// migrateLogin is the PythonAuthenHandler of the section www/sec: alice/secret.
const migrateLogin = `from mod_python import apache


def authenhandler(req):
    pw = req.get_basic_auth_pw()
    if req.user == "alice" and pw == "secret":
        return apache.OK
    return apache.HTTP_UNAUTHORIZED
`

// debianTree writes a Debian-style Apache configuration in root/etc/apache2 (apache2.conf,
// envvars, ports.conf, mods-available with links in mods-enabled, python.load included, and
// a site in sites-available linked from sites-enabled) serving root/www on port: <Directory>
// www/a (SetHandler mod_python), www/b (AddHandler mod_python .py) and www/ht, whose .htaccess
// holds the handler. It returns the configuration directory.
func debianTree(t *testing.T, root string, port int) string {
	t.Helper()
	etc := filepath.Join(root, "etc", "apache2")
	www := filepath.Join(root, "www")
	files := map[string]string{
		"apache2.conf": `# apache2.conf, as Debian's (trimmed)
DefaultRuntimeDir ${APACHE_RUN_DIR}
PidFile ${APACHE_PID_FILE}
Timeout 300
KeepAlive On
User ${APACHE_RUN_USER}
Group ${APACHE_RUN_GROUP}
HostnameLookups Off
ErrorLog ${APACHE_LOG_DIR}/error.log
LogLevel warn
ServerName 127.0.0.1

IncludeOptional mods-enabled/*.load
IncludeOptional mods-enabled/*.conf

Include ports.conf

<Directory />
	Options FollowSymLinks
	AllowOverride None
	Require all denied
</Directory>

<Directory ` + www + `/>
	Options Indexes FollowSymLinks
	AllowOverride None
	Require all granted
</Directory>

AccessFileName .htaccess
<FilesMatch "^\.ht">
	Require all denied
</FilesMatch>

IncludeOptional conf-enabled/*.conf
IncludeOptional sites-enabled/*.conf
`,
		"envvars": `unset HOME
export APACHE_RUN_USER=www-data
export APACHE_RUN_GROUP=www-data
export APACHE_PID_FILE=` + etc + `/run/apache2.pid
export APACHE_RUN_DIR=` + etc + `/run
export APACHE_LOCK_DIR=` + etc + `/lock
export APACHE_LOG_DIR=` + etc + `/logs
export LANG=C
export PYTHONDONTWRITEBYTECODE=1
`,
		"ports.conf": "Listen 127.0.0.1:" + strconv.Itoa(port) + "\n",
		"sites-available/site.conf": `<VirtualHost *:` + strconv.Itoa(port) + `>
	ServerName localhost
	DocumentRoot ` + www + `
	PythonOption site demo

	<Directory ` + www + `/a>
		SetHandler mod_python
		PythonHandler who
		PythonOption marker a
	</Directory>

	<Directory ` + www + `/b>
		AddHandler mod_python .py
		PythonHandler who
		PythonOption marker b
	</Directory>

	<Directory ` + www + `/ht>
		AllowOverride All
	</Directory>

	<Directory ` + www + `/sec>
		AllowOverride All
	</Directory>
</VirtualHost>
`,
		"mods-available/mime.conf": "TypesConfig /etc/mime.types\n",
	}
	for _, m := range []string{"mpm_event", "authz_core", "authz_host", "authz_user", "authn_core", "authn_file", "auth_basic",
		"mime", "dir", "alias", "env", "setenvif", "python"} {
		files["mods-available/"+m+".load"] = fmt.Sprintf("LoadModule %s_module /usr/lib/apache2/modules/mod_%s.so\n", m, m)
	}
	for name, text := range files {
		writeTestFile(t, filepath.Join(etc, name), text)
	}
	for name := range files {
		if dir, base := filepath.Split(name); dir == "mods-available/" {
			mustSymlink(t, "../mods-available/"+base, filepath.Join(etc, "mods-enabled", base))
		}
	}
	mustSymlink(t, "../sites-available/site.conf", filepath.Join(etc, "sites-enabled", "site.conf"))
	for _, d := range []string{"conf-enabled", "run", "logs", "lock"} {
		if err := os.MkdirAll(filepath.Join(etc, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"a", "b", "ht", "sec"} {
		writeTestFile(t, filepath.Join(www, d, "who.py"), migrateWho)
	}
	writeTestFile(t, filepath.Join(www, "ht", ".htaccess"), "SetHandler mod_python\nPythonHandler who\nPythonOption marker ht\n")
	// The usual mod_python login: Basic authentication by a PythonAuthenHandler in .htaccess,
	// with the lines a Debian site needs for it (mod_auth_basic, loaded first, would otherwise
	// answer 500 "AuthUserFile not specified" before mod_python's handler runs).
	writeTestFile(t, filepath.Join(www, "sec", ".htaccess"), "SetHandler mod_python\nPythonHandler who\nPythonOption marker sec\n"+
		"PythonAuthenHandler login\nAuthType Basic\nAuthName \"members\"\n"+
		"AuthBasicProvider file\nAuthUserFile /dev/null\nAuthBasicAuthoritative Off\nRequire valid-user\n")
	writeTestFile(t, filepath.Join(www, "sec", "login.py"), migrateLogin)
	return etc
}

func writeTestFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustSymlink(t *testing.T, target, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
}

// debianApache is an Apache started as Debian's apache2ctl does: envvars sourced, then
// apache2 -d ROOT -f ROOT/apache2.conf, in the foreground.
type debianApache struct {
	etc  string
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

func startDebianApache(t *testing.T, etc string, port int) *debianApache {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", `. "$1/envvars" && exec /usr/sbin/apache2 -d "$1" -f "$1/apache2.conf" -DFOREGROUND`, "sh", etc)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	a := &debianApache{etc: etc, port: port, cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(a.done) }()
	t.Cleanup(a.stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second); err == nil {
			c.Close()
			return a
		}
		select {
		case <-a.done:
			log, _ := os.ReadFile(filepath.Join(etc, "logs", "error.log"))
			t.Fatalf("apache2 exited before listening: %s\n%s", out.String(), tailLines(string(log), 30))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("apache2 did not listen on %d within 30s: %s", port, out.String())
		}
	}
}

// stop stops Apache and waits until its whole process group is gone.
func (a *debianApache) stop() {
	select {
	case <-a.done:
		return
	default:
	}
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(20 * time.Second):
	}
	syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL)
	<-a.done
	// The port is free once the parent is gone; mod_fcgid's relays die with the group.
}

// migrateCmd runs mpgate migrate with args and returns its output and error output.
func migrateCmd(t *testing.T, wantOK bool, args ...string) (string, string) {
	t.Helper()
	cmd := exec.Command(mpgateBin, append([]string{"migrate"}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if (err == nil) != wantOK {
		t.Fatalf("mpgate migrate %s: %v\n%s\n%s", strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

// TestMigrateDebianSite migrates a Debian tree's mod_python site in steps with --apply, serving
// each step from the real Apache configuration: the migrated sections by mpgate (over mod_fcgid
// relays), the others by the still-loaded mod_python; then mod_python is disabled and
// everything is served by mpgate; then --revert brings back the original byte for byte, served
// by mod_python.
func TestMigrateDebianSite(t *testing.T) {
	root := apachetest.TempDir(t)
	port := apachetest.FreePort(t)
	etc := debianTree(t, root, port)
	run := filepath.Join(root, "run")
	if err := os.MkdirAll(run, 0o755); err != nil {
		t.Fatal(err)
	}
	apachetest.Chown(t, root)
	t.Cleanup(func() { stopRelayDaemon(t, run) })
	www := filepath.Join(root, "www")
	conf := filepath.Join(etc, "apache2.conf")
	site := filepath.Join(etc, "sites-available", "site.conf")
	original := map[string][]byte{}
	for _, f := range []string{conf, site, filepath.Join(www, "ht", ".htaccess"), filepath.Join(www, "sec", ".htaccess")} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		original[f] = b
	}
	base := []string{"--config", conf, "--run-dir", run, "--snippet-dir", filepath.Join(root, "snippets"), "--mpgate", mpgateBin}
	srv := apachetest.Remote(port, "")
	expect := func(step string, who map[string]string) {
		t.Helper()
		for _, c := range []struct{ path, marker string }{{"/a/x", "a"}, {"/b/who.py", "b"}, {"/ht/x", "ht"}, {"/sec/x", "sec"}} {
			r := srv.Get(t, c.path, basicAuth("alice:secret"))
			want := fmt.Sprintf("%s %s %s\n", who[c.marker], c.marker, c.path)
			if r.Status != 200 || string(r.Body) != want {
				t.Errorf("%s: GET %s: %d %q, want 200 %q", step, c.path, r.Status, r.Body, want)
			}
		}
		for _, hdr := range []string{"X-No-Credentials: 1", basicAuth("alice:wrong")} {
			if r := srv.Get(t, "/sec/x", hdr); r.Status != 401 || !strings.Contains(r.Header.Get("WWW-Authenticate"), `realm="members"`) {
				t.Errorf("%s: GET /sec/x (%s): %d %q, want 401 with the members realm", step, hdr, r.Status, r.Header.Get("WWW-Authenticate"))
			}
		}
	}
	mp, mg := "mod_python", "mpgate"

	// The original site: mod_python everywhere.
	a := startDebianApache(t, etc, port)
	expect("original", map[string]string{"a": mp, "b": mp, "ht": mp, "sec": mp})

	// The diff alone changes nothing.
	diff, summary := migrateCmd(t, true, append(base, "--section", www+"/a")...)
	if !strings.Contains(diff, "--- a"+site) || !strings.Contains(summary, "to migrate  <Directory "+www+"/a>") {
		t.Errorf("migrate --section a: diff\n%s\nsummary\n%s", diff, summary)
	}
	if b, _ := os.ReadFile(site); !bytes.Equal(b, original[site]) {
		t.Errorf("migrate without --apply changed %s", site)
	}

	// Step 1: www/a.
	out, _ := migrateCmd(t, true, append(base, "--section", www+"/a", "--apply")...)
	if !strings.Contains(out, "passes the check") {
		t.Errorf("migrate --apply: %s", out)
	}
	a.stop()
	a = startDebianApache(t, etc, port)
	expect("a migrated", map[string]string{"a": mg, "b": mp, "ht": mp, "sec": mp})
	// Running it again changes nothing.
	if _, summary := migrateCmd(t, true, append(base, "--section", www+"/a", "--apply")...); !strings.Contains(summary, "nothing to change") {
		t.Errorf("migrate --apply twice: %s", summary)
	}

	// A change that does not pass the check (here because of an unrelated broken file) is
	// refused and undone, naming Apache's error.
	broken := filepath.Join(etc, "conf-enabled", "broken.conf")
	writeTestFile(t, broken, "NoSuchDirective here\n")
	siteNow, _ := os.ReadFile(site)
	_, errOut := migrateCmd(t, false, append(base, "--section", www+"/b", "--apply")...)
	if !strings.Contains(errOut, "Invalid command 'NoSuchDirective'") || !strings.Contains(errOut, "back as it was") {
		t.Errorf("migrate --apply with a failing check: %s", errOut)
	}
	if b, _ := os.ReadFile(site); !bytes.Equal(b, siteNow) {
		t.Errorf("a refused --apply left %s changed:\n%s", site, b)
	}
	os.Remove(broken)

	// Step 2: the rest (the .htaccess is edited in place).
	_, summary = migrateCmd(t, true, append(base, "--section", www+"/b", "--section", www+"/ht", "--section", www+"/sec", "--apply")...)
	if !strings.Contains(summary, "a2dismod python") {
		t.Errorf("migrate of the last sections does not say how to disable mod_python:\n%s", summary)
	}
	a.stop()
	a = startDebianApache(t, etc, port)
	expect("all migrated", map[string]string{"a": mg, "b": mg, "ht": mg, "sec": mg})

	// Step 3: mod_python disabled; apachectl -t (apache2 -t) passed, or --apply would have failed.
	migrateCmd(t, true, append(base, "--disable-mod-python", "--apply")...)
	if _, err := os.Lstat(filepath.Join(etc, "mods-enabled", "python.load")); err == nil {
		t.Errorf("mods-enabled/python.load is still there")
	}
	a.stop()
	a = startDebianApache(t, etc, port)
	expect("mod_python disabled", map[string]string{"a": mg, "b": mg, "ht": mg, "sec": mg})
	if r := srv.Get(t, "/a/x"); strings.Contains(r.Header.Get("Server"), "mod_python") {
		t.Errorf("Server header %q: mod_python is still loaded", r.Header.Get("Server"))
	}

	// Revert: the original files, served by mod_python again.
	out, _ = migrateCmd(t, true, append(base, "--revert")...)
	if !strings.Contains(out, "restored the link") {
		t.Errorf("migrate --revert: %s", out)
	}
	for f, want := range original {
		if b, _ := os.ReadFile(f); !bytes.Equal(b, want) {
			t.Errorf("after --revert, %s is\n%s\nwant\n%s", f, b, want)
		}
		if _, err := os.Stat(f + ".mpgate-orig"); err == nil {
			t.Errorf("after --revert, %s.mpgate-orig is left", f)
		}
	}
	a.stop()
	stopRelayDaemon(t, run)
	a = startDebianApache(t, etc, port)
	expect("reverted", map[string]string{"a": mp, "b": mp, "ht": mp, "sec": mp})
	a.stop()
}

// previewHtaccessCases are the requests of the preview .htaccess case: raw PythonHandler and
// PythonOption lines in .htaccess, a deeper one overriding an option, and a directory whose
// .htaccess Apache never reads (AllowOverride None).
var previewHtaccessCases = []apiCase{
	get("", "/ht/x"),
	get("", "/ht/show.py/extra"),
	get("", "/ht/sub/y"),
	get("", "/off/z"),
}

// TestPreviewHtaccess serves a site whose .htaccess files hold raw Python* lines with mpgate
// preview (which must neither answer 500 nor change them) and compares with real mod_python.
func TestPreviewHtaccess(t *testing.T) {
	dir, conf, ref := referenceSite(t, "testdata/migrate")
	before := map[string][]byte{}
	for _, f := range []string{"htdocs/ht/.htaccess", "htdocs/ht/sub/.htaccess", "htdocs/off/.htaccess"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		before[f] = b
	}
	for _, via := range []string{"fcgid", "proxy", "cgi"} {
		t.Run(via, func(t *testing.T) {
			got, _ := previewRun(t, conf, via)
			for _, c := range previewHtaccessCases {
				t.Run(c.title(), func(t *testing.T) {
					if via != "cgi" {
						compareCase(t, ref, got, c)
						return
					}
					// Through the CGI relay, mod_cgid sometimes frames the body with a
					// Content-Length where mod_python chunks it (the relay's business, not
					// the .htaccess files'): status and body only.
					want, have := ref.Get(t, c.path), got.Get(t, c.path)
					wb := bytes.ReplaceAll(want.Body, []byte(ref.Root), []byte("@ROOT@"))
					if have.Status != want.Status || !bytes.Equal(have.Body, wb) {
						t.Errorf("GET %s: %d %q, want %d %q", c.path, have.Status, have.Body, want.Status, wb)
					}
				})
			}
		})
	}
	for f, b := range before {
		if now, _ := os.ReadFile(filepath.Join(dir, f)); !bytes.Equal(now, b) {
			t.Errorf("preview changed %s", f)
		}
	}
}
