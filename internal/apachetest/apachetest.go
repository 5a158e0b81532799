// This file writes a private ServerRoot, runs Apache in it, and stops it.

package apachetest

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// startTimeout bounds the wait for a new server to listen.
	startTimeout = 30 * time.Second
	// gracefulShutdownTimeout is the server's GracefulShutdownTimeout: after graceful-stop, Apache
	// waits this long for requests in flight, then ends them.
	gracefulShutdownTimeout = 3 * time.Second
	// stopSlack is how long Stop waits, beyond what Apache itself may take, before escalating.
	stopSlack = 10 * time.Second
	// bindAttempts is how many ports Start tries when Apache cannot bind the one it picked.
	bindAttempts = 5
	// logTailLines is how many lines of each log a failing test prints.
	logTailLines = 60
)

// fileMTime is the modification time of every file staged from Options.Files.
var fileMTime = time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)

// baseModules are loaded by every server, in this order, before Options.Modules.
var baseModules = []string{"mpm_event", "authz_core", "authz_host", "mime", "dir", "alias", "env", "setenvif", "headers"}

// apacheEnv is the whole environment of the Apache parent (and so of mod_python's os.environ and of
// programs Apache starts). LANG=C is what Debian's /etc/apache2/envvars sets; no bytecode is written
// so that a handler rewritten within the same second is never run from a stale .pyc.
var apacheEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"LANG=C",
	"PYTHONDONTWRITEBYTECODE=1",
}

// Options configures a server for Start. The zero value serves DocRoot with the base configuration.
type Options struct {
	// Modules are loaded after the base set (mpm_event, authz_core, authz_host, mime, dir, alias, env,
	// setenvif, headers), each named as in its file name: "proxy_fcgi" loads mod_proxy_fcgi.so as
	// proxy_fcgi_module. A proxy_* module brings in proxy before it.
	Modules []string
	// Config is appended to the base configuration, so it may override base directives (LogLevel,
	// KeepAlive, ...). Placeholders are expanded (see Start).
	Config string
	// Files are created under DocRoot before Apache starts, keyed by slash-separated relative path;
	// directories are created as needed. Placeholders are expanded. Content starting with "#!" is
	// made executable. Every file is dated 2001-02-03 04:05:06 UTC, so Last-Modified agrees between
	// two servers staged with the same files.
	Files map[string]string
	// User is the account Apache's children run as; empty means RunAs. Another user needs root.
	User string
}

// Server is a private Apache started by Start. Its methods may be called from several goroutines;
// those taking a testing.TB fail the test through it and must be called as its methods allow.
type Server struct {
	Root         string // private ServerRoot: conf/httpd.conf, htdocs/, logs/, run/
	DocRoot      string // Root + "/htdocs", the DocumentRoot
	Port         int    // the port Apache listens on at 127.0.0.1
	URL          string // "http://127.0.0.1:PORT", without a trailing slash
	ErrorLogPath string // Root + "/logs/error.log"
	PID          int    // the Apache parent's process id, which is also its process group id

	t        testing.TB
	user     apacheUser
	started  bool          // Apache answered; cleanup prints logs on failure only then
	exited   chan struct{} // closed once the Apache parent has exited and been waited for
	client   *http.Client
	stopOnce sync.Once

	mu   sync.Mutex // guards logs
	logs []string   // files registered with AddLog
}

// Start starts a private Apache for the test and stops it when the test ends (t.Cleanup). It writes
// Root/conf/httpd.conf from a base configuration, Options.Config and Options.Files, runs
// `apache2 -f Root/conf/httpd.conf -DFOREGROUND` in a process group of its own, and returns once
// the port answers. If Apache cannot bind the port it picked, Start tries another. Missing Apache
// packages are installed with apt-get when running as root; if that is impossible the test fails.
// When the test fails, the tails of the error log, Apache's stderr, the access log and files
// registered with AddLog are printed.
//
// Placeholders in Config and Files: @ROOT@ (Root), @DOCROOT@ (DocRoot), @PORT@ (Port) and @RUN@
// (Root/run: DefaultRuntimeDir, the PidFile, mod_fcgid's FcgidIPCDir @RUN@/fcgid and
// FcgidProcessTableFile, mod_python's mutex_directory, mod_cgid's ScriptSock @RUN@/cgid.sock).
//
// The base configuration: ServerRoot, Listen 127.0.0.1:@PORT@, ServerName 127.0.0.1, LogLevel info,
// an access log in Root/logs/access.log, mpm_event with StartServers 1, ServerLimit 2,
// ThreadsPerChild 16, MaxRequestWorkers 32, GracefulShutdownTimeout 3, KeepAlive On,
// TypesConfig /etc/mime.types, User and Group when root, DocumentRoot @DOCROOT@ with
// `Require all granted` and `AllowOverride All`, and `Require all denied` for everything else (as
// Apache's stock configuration), so directories outside DocRoot need a <Directory> of their own.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	return start(t, opts, FreePort)
}

// start is Start with the source of ports as a parameter, so a test can hand it a taken port.
func start(t testing.TB, opts Options, pickPort func(testing.TB) int) *Server {
	t.Helper()
	modules, err := moduleList(opts.Modules)
	if err != nil {
		t.Fatalf("apachetest: %v", err)
	}
	if err := ensureInstalled(modules); err != nil {
		t.Fatalf("apachetest: %v", err)
	}
	u, err := serverUser(opts.User)
	if err != nil {
		t.Fatalf("apachetest: %v", err)
	}
	root := tempDir(t, u.uid, u.gid)
	s := &Server{
		Root:         root,
		DocRoot:      root + "/htdocs",
		ErrorLogPath: root + "/logs/error.log",
		t:            t,
		user:         u,
	}
	for _, d := range []string{"conf", "htdocs", "logs", "run", "run/fcgid"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatalf("apachetest: %v", err)
		}
	}
	t.Cleanup(s.cleanup)
	for attempt := 1; ; attempt++ {
		s.Port = pickPort(t)
		s.URL = "http://127.0.0.1:" + strconv.Itoa(s.Port)
		if err := s.writeRoot(modules, opts); err != nil {
			t.Fatalf("apachetest: %v", err)
		}
		err := s.launch()
		if err == nil {
			break
		}
		if errors.Is(err, errPortTaken) && attempt < bindAttempts {
			t.Logf("apachetest: port %d taken, trying another: %v", s.Port, err)
			continue
		}
		t.Fatalf("apachetest: %v", err)
	}
	s.started = true
	s.client = newClient()
	t.Logf("apachetest: Apache pid %d serving %s, ServerRoot %s", s.PID, s.URL, s.Root)
	return s
}

// serverUser returns the account named by Options.User.
func serverUser(name string) (apacheUser, error) {
	def := runAs()
	if name == "" || name == def.name {
		return def, def.err
	}
	if os.Geteuid() != 0 {
		return apacheUser{}, fmt.Errorf("Options.User %q: Apache can switch to another user only when started as root", name)
	}
	return lookupUser(name)
}

var moduleName = regexp.MustCompile(`^[a-z0-9_]+$`)

// moduleList returns baseModules followed by extra, without repeats, with proxy before proxy_*.
func moduleList(extra []string) ([]string, error) {
	seen := make(map[string]bool)
	var mods []string
	add := func(m string) {
		if !seen[m] {
			seen[m] = true
			mods = append(mods, m)
		}
	}
	for _, m := range baseModules {
		add(m)
	}
	for _, m := range extra {
		if !moduleName.MatchString(m) || strings.HasPrefix(m, "mod_") || strings.HasSuffix(m, "_module") {
			return nil, fmt.Errorf("Options.Modules: %q is not a module name like \"proxy_fcgi\" (for mod_proxy_fcgi.so)", m)
		}
		if strings.HasPrefix(m, "proxy_") {
			add("proxy")
		}
		add(m)
	}
	return mods, nil
}

// expand replaces the placeholders documented at Start.
func (s *Server) expand(text string) string {
	return strings.NewReplacer(
		"@ROOT@", s.Root,
		"@DOCROOT@", s.DocRoot,
		"@PORT@", strconv.Itoa(s.Port),
		"@RUN@", s.Root+"/run",
	).Replace(text)
}

func (s *Server) confPath() string { return s.Root + "/conf/httpd.conf" }

// writeRoot writes the configuration and the staged files for the current port and gives the
// whole ServerRoot to the Apache user.
func (s *Server) writeRoot(modules []string, opts Options) error {
	// Logs of an attempt that could not bind would only confuse WaitLog and the failure output.
	for _, f := range []string{s.ErrorLogPath, s.Root + "/logs/stderr.log", s.Root + "/logs/access.log"} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	types := "/etc/mime.types"
	if _, err := os.Stat(types); err != nil {
		// Without media-types, serve the few types tests use rather than none.
		types = s.Root + "/conf/mime.types"
		const minimal = "text/html html htm\ntext/plain txt\ntext/css css\napplication/json json\n"
		if err := os.WriteFile(types, []byte(minimal), 0o644); err != nil {
			return err
		}
	}
	if err := os.WriteFile(s.confPath(), []byte(s.config(modules, types, opts.Config)), 0o644); err != nil {
		return err
	}
	for name, content := range opts.Files {
		if !filepath.IsLocal(name) {
			return fmt.Errorf("Options.Files: %q is not a relative path inside DocRoot", name)
		}
		p := filepath.Join(s.DocRoot, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(content, "#!") {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(s.expand(content)), mode); err != nil {
			return err
		}
		if err := os.Chmod(p, mode); err != nil { // WriteFile's mode is filtered by the umask
			return err
		}
		if err := os.Chtimes(p, fileMTime, fileMTime); err != nil {
			return err
		}
	}
	return chownTree(s.Root, s.user.uid, s.user.gid)
}

// config returns the expanded httpd.conf.
func (s *Server) config(modules []string, mimeTypes, extra string) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("# Written by apachetest for %s.", s.t.Name())
	line(`ServerRoot "@ROOT@"`)
	line("Listen 127.0.0.1:@PORT@")
	line("ServerName 127.0.0.1")
	line("PidFile @RUN@/httpd.pid")
	// Mutexes and other runtime files go to DefaultRuntimeDir. No "Mutex file:..." (Debian's stock
	// line): fcntl locks make mod_fcgid under mpm_event fail ("can't lock process table ... Resource
	// deadlock avoided", shared/anchors/start.sh); this build's default is pthread mutexes, no files.
	line("DefaultRuntimeDir @RUN@")
	line("ErrorLog @ROOT@/logs/error.log")
	line("LogLevel info")
	line(`LogFormat "%%h %%l %%u %%t \"%%r\" %%>s %%b %%D pid=%%P" apachetest`)
	line("CustomLog @ROOT@/logs/access.log apachetest")
	if os.Geteuid() == 0 {
		line("User %s", s.user.name)
		line("Group #%d", s.user.gid)
	}
	line("")
	for _, m := range modules {
		line("LoadModule %s_module %s", m, modulePath(m))
	}
	line("")
	line("StartServers 1")
	line("ServerLimit 2")
	line("ThreadLimit 16")
	line("ThreadsPerChild 16")
	line("MaxRequestWorkers 32")
	line("MinSpareThreads 8")
	line("MaxSpareThreads 32")
	line("MaxConnectionsPerChild 0")
	line("GracefulShutdownTimeout %d", int(gracefulShutdownTimeout/time.Second))
	line("KeepAlive On")
	line("TypesConfig %s", mimeTypes)
	for _, m := range modules {
		switch m {
		case "fcgid":
			line("FcgidIPCDir @RUN@/fcgid")
			line("FcgidProcessTableFile @RUN@/fcgid_shm")
		case "python":
			line("PythonOption mod_python.mutex_directory @RUN@")
		case "cgid":
			line("ScriptSock @RUN@/cgid.sock")
		}
	}
	line("")
	line(`DocumentRoot "@DOCROOT@"`)
	line("<Directory />")
	line("    AllowOverride None")
	line("    Require all denied")
	line("</Directory>")
	line(`<Directory "@DOCROOT@">`)
	line("    AllowOverride All")
	line("    Require all granted")
	line("</Directory>")
	if extra != "" {
		line("")
		line("# Options.Config")
		b.WriteString(extra)
		line("")
	}
	return s.expand(b.String())
}

// errPortTaken reports that Apache exited because it could not bind its port.
var errPortTaken = errors.New("port taken")

// launch starts Apache and waits until it listens. On error, Apache is no longer running.
func (s *Server) launch() error {
	stderr, err := os.Create(s.Root + "/logs/stderr.log")
	if err != nil {
		return err
	}
	cmd := exec.Command(apacheBin, "-f", s.confPath(), "-DFOREGROUND")
	cmd.Dir = s.Root
	cmd.Env = apacheEnv
	cmd.Stdout, cmd.Stderr = stderr, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// A group of its own lets Stop find and end everything Apache started.
		Setpgid: true,
		// If the test binary dies (go test -timeout), Apache stops too.
		Pdeathsig: syscall.SIGTERM,
	}
	err = cmd.Start()
	stderr.Close() // Apache has its own copy
	if err != nil {
		return fmt.Errorf("start %s: %w", apacheBin, err)
	}
	s.PID = cmd.Process.Pid
	s.exited = make(chan struct{})
	go func(exited chan struct{}) {
		cmd.Wait() // the exit status says nothing the logs do not
		close(exited)
	}(s.exited)

	deadline := time.Now().Add(startTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-s.exited:
			logs := s.logTails(false)
			if strings.Contains(logs, "could not bind") || strings.Contains(logs, "Address already in use") {
				return fmt.Errorf("%w: Apache exited:\n%s", errPortTaken, logs)
			}
			return fmt.Errorf("Apache exited during start (exit status %d):\n%s%s",
				cmd.ProcessState.ExitCode(), logs, s.configExcerpt(logs))
		case <-tick.C:
		}
		if s.listening() {
			return nil
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("Apache (pid %d) did not listen on %s within %v; killed it:\n%s",
				s.PID, s.URL, startTimeout, s.logTails(false))
		}
	}
}

// listening reports whether Apache wrote its pid file, which it does after binding its port, and
// the port accepts connections.
func (s *Server) listening() bool {
	b, err := os.ReadFile(s.Root + "/run/httpd.pid")
	if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(s.PID) {
		return false
	}
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(s.Port), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

var syntaxError = regexp.MustCompile(`line (\d+) of ([^:\s]+)`)

// configExcerpt returns the lines of httpd.conf around a syntax error reported in logs, if any.
func (s *Server) configExcerpt(logs string) string {
	m := syntaxError.FindStringSubmatch(logs)
	if m == nil || m[2] != s.confPath() {
		return ""
	}
	n, _ := strconv.Atoi(m[1])
	b, err := os.ReadFile(s.confPath())
	if err != nil {
		return ""
	}
	lines := strings.Split(string(b), "\n")
	var out strings.Builder
	fmt.Fprintf(&out, "\n%s:\n", s.confPath())
	for i := max(n-4, 1); i <= min(n+3, len(lines)); i++ {
		mark := "  "
		if i == n {
			mark = "> "
		}
		fmt.Fprintf(&out, "%s%4d  %s\n", mark, i, lines[i-1])
	}
	return out.String()
}

// Stop stops the server gracefully (graceful-stop: requests in flight get up to 3 s), waits for the
// Apache parent to exit and for every process it started (its process group) to be gone, and kills
// what remains after bounded waits, failing the test if it had to. Stop is idempotent, runs
// automatically when the test ends, and must not be called after that.
func (s *Server) Stop() { s.stopOnce.Do(s.stop) }

func (s *Server) stop() {
	if s.exited == nil {
		return // never launched
	}
	if s.client != nil {
		s.client.CloseIdleConnections()
	}
	s.signal(syscall.SIGWINCH) // graceful-stop
	if !s.waitGraceful(gracefulShutdownTimeout + stopSlack) {
		s.t.Errorf("apachetest: Apache (pid %d) still running %v after graceful-stop; sending SIGTERM",
			s.PID, gracefulShutdownTimeout+stopSlack)
		s.signal(syscall.SIGTERM)
		if !s.waitExited(stopSlack) {
			s.kill()
		}
	}
	// Programs Apache started (mod_fcgid's, CGI scripts) may outlive it for a moment: mod_fcgid
	// sends them SIGTERM and, at 8 s, SIGKILL (fcgid_pm_main.c).
	if left := s.waitGroupGone(stopSlack); left != "" {
		syscall.Kill(-s.PID, syscall.SIGKILL)
		s.t.Errorf("apachetest: processes of Apache (pid %d) still running %v after it exited; killed them:\n%s",
			s.PID, stopSlack, left)
	}
}

// signal sends sig to the Apache parent unless it has exited.
func (s *Server) signal(sig syscall.Signal) {
	select {
	case <-s.exited:
	default:
		syscall.Kill(s.PID, sig)
	}
}

// kill kills Apache's whole process group and waits for the parent.
func (s *Server) kill() {
	syscall.Kill(-s.PID, syscall.SIGKILL)
	s.waitExited(stopSlack)
}

// waitExited waits at most d for the Apache parent to exit and reports whether it did.
func (s *Server) waitExited(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-s.exited:
		return true
	case <-timer.C:
		return false
	}
}

// waitGraceful waits at most d for the Apache parent to exit after graceful-stop. Once the MPM's
// children have finished their requests and exited, the parent would still sleep out the second its
// graceful-stop loop pauses between checks (server/mpm/event/event.c: apr_sleep(1 s)), and longer if
// it has other children (mod_fcgid's process manager, mod_cgid's daemon), which it stops only at
// its final exit. SIGTERM then ends that wait early without cutting any request short. The MPM's
// children are told apart from the others by their threads: an event child has a listener and
// worker threads, the other children of the parent have one.
func (s *Server) waitGraceful(d time.Duration) bool {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	hurried := false
	for {
		select {
		case <-s.exited:
			return true
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return false
		}
		if !hurried && !slices.ContainsFunc(groupProcesses(s.PID), func(p process) bool {
			return p.ppid == s.PID && p.threads > 1
		}) {
			s.signal(syscall.SIGTERM)
			hurried = true
		}
	}
}

// waitGroupGone waits at most d for Apache's process group to have no live process left and
// returns a description of those left.
func (s *Server) waitGroupGone(d time.Duration) string {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		left := groupProcesses(s.PID)
		if len(left) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, p := range left {
				fmt.Fprintf(&b, "pid %d: %s\n", p.pid, p.cmdline)
			}
			return b.String()
		}
		<-tick.C
	}
}

// process is a live process of a server's process group.
type process struct {
	pid, ppid int
	threads   int
	cmdline   string
}

// groupProcesses returns the live (non-zombie) processes of process group pgid. Zombies are left
// out: an orphan's zombie lasts until init reaps it, which some container inits never do, and it
// runs nothing.
func groupProcesses(pgid int) []process {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var procs []process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		// pid (comm) state ppid pgrp ...; comm may contain spaces and parentheses.
		stat := string(b)
		i := strings.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		// Fields after comm (proc(5)): 0 state, 1 ppid, 2 pgrp, ..., 17 num_threads.
		f := strings.Fields(stat[i+1:])
		if len(f) < 18 || f[0] == "Z" || f[2] != strconv.Itoa(pgid) {
			continue
		}
		p := process{pid: pid}
		p.ppid, _ = strconv.Atoi(f[1])
		p.threads, _ = strconv.Atoi(f[17])
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		p.cmdline = strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))
		procs = append(procs, p)
	}
	return procs
}

// cleanup stops the server and, if the test failed, prints the logs' tails.
func (s *Server) cleanup() {
	s.Stop()
	if s.started && s.t.Failed() {
		s.t.Logf("apachetest: logs of %s (ServerRoot %s):\n%s", s.URL, s.Root, s.logTails(true))
	}
}

// AddLog registers another log file (a FastCGI daemon's, say) whose tail is printed, like the error
// log's, if the test fails.
func (s *Server) AddLog(path string) {
	s.mu.Lock()
	s.logs = append(s.logs, path)
	s.mu.Unlock()
	// Printed from a cleanup of its own, registered now, so that it runs before the removal of
	// temporary directories made earlier, where such logs tend to live.
	s.t.Cleanup(func() {
		if s.t.Failed() {
			s.t.Logf("apachetest: tail of %s:\n%s", path, tailFile(path, logTailLines))
		}
	})
}

// ErrorLog returns the error log's current content.
func (s *Server) ErrorLog() string {
	b, _ := os.ReadFile(s.ErrorLogPath)
	return string(b)
}

// WaitLog waits until the error log contains substr, polling it, and fails the test if it does not
// within timeout or if Apache exits first without having written it.
func (s *Server) WaitLog(t testing.TB, substr string, timeout time.Duration) {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if strings.Contains(s.ErrorLog(), substr) {
			return
		}
		select {
		case <-tick.C:
			continue
		case <-timer.C:
			t.Fatalf("apachetest: error log of %s has no %q after %v; its tail:\n%s",
				s.URL, substr, timeout, tailFile(s.ErrorLogPath, logTailLines))
		case <-s.exited:
			if strings.Contains(s.ErrorLog(), substr) {
				return
			}
			t.Fatalf("apachetest: Apache of %s exited and its error log has no %q; its tail:\n%s",
				s.URL, substr, tailFile(s.ErrorLogPath, logTailLines))
		}
	}
}

// logTails returns the tails of the server's logs (and, with extra, of AddLog files) for a message.
func (s *Server) logTails(extra bool) string {
	var b strings.Builder
	files := []struct {
		path  string
		lines int
	}{
		{s.Root + "/logs/stderr.log", logTailLines},
		{s.ErrorLogPath, logTailLines},
		{s.Root + "/logs/access.log", 20},
	}
	for _, f := range files {
		fi, err := os.Stat(f.path)
		if err != nil || fi.Size() == 0 {
			continue
		}
		fmt.Fprintf(&b, "--- %s\n%s", f.path, tailFile(f.path, f.lines))
	}
	if b.Len() == 0 {
		return "(all logs empty)\n"
	}
	return b.String()
}

// tailFile returns the last n lines of a file, or why it cannot.
func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)\n", err)
	}
	return tail(string(b), n)
}

// tail returns the last n lines of text, ending in a newline.
func tail(text string, n int) string {
	text = strings.TrimRight(text, "\n")
	lines := strings.Split(text, "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("[... %d lines before]", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n") + "\n"
}

var ports struct {
	mu    sync.Mutex   // guards given
	given map[int]bool // ports FreePort returned in this process
}

// FreePort returns a TCP port of 127.0.0.1 that was free a moment ago and that FreePort has not
// returned before in this process. Another process may still take it before it is used; Start
// copes with that by trying another port.
func FreePort(t testing.TB) int {
	t.Helper()
	ports.mu.Lock()
	defer ports.mu.Unlock()
	if ports.given == nil {
		ports.given = make(map[int]bool)
	}
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("apachetest: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !ports.given[port] {
			ports.given[port] = true
			return port
		}
	}
	t.Fatalf("apachetest: no new free port in 100 tries")
	return 0
}
