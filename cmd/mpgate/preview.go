// This file is `mpgate preview`: it serves a mod_python site's configuration through a private
// Apache and the mpgate daemon, the way a migrated site will run, without changing anything the
// user owns. The site's configuration is only read; everything preview writes (the rewritten
// copy, the server configuration around it, logs, the daemon's run directory) goes into one
// directory of its own.

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	apacheconf "github.com/mpgate/mpgate/apache-conf"
	"github.com/mpgate/mpgate/rewrite"
)

const (
	// previewApacheBin and previewModulesDir are where Debian's apache2-bin puts Apache.
	previewApacheBin  = "/usr/sbin/apache2"
	previewModulesDir = "/usr/lib/apache2/modules"
	// previewMarker marks a directory as preview's own, so that a later run may reuse it.
	previewMarker = ".mpgate-preview"
	// previewDaemonStart bounds the wait for the daemon's socket (it unpacks its Python runtime
	// and starts its first workers before it listens).
	previewDaemonStart = 60 * time.Second
	// previewApacheStart bounds the wait for Apache's port.
	previewApacheStart = 30 * time.Second
	// previewApacheStop is how long Apache may take to stop after SIGTERM before SIGKILL; mod_fcgid
	// SIGKILLs its own processes 8 s after SIGTERM.
	previewApacheStop = 15 * time.Second
	// previewDaemonStop is how long the daemon may drain after SIGTERM before SIGKILL: its own
	// drain limit (shutdownGrace) plus a little.
	previewDaemonStop = shutdownGrace + 5*time.Second
	// previewPoll is the interval of the waits above and of following the error log.
	previewPoll = 50 * time.Millisecond
	// previewUser is the user Apache's children (and the daemon started by a mod_fcgid relay) run
	// as when preview runs as root, as in Debian's stock configuration.
	previewUser = "www-data"
)

// previewBaseModules are the modules of a Debian Apache that preview loads, in order.
var previewBaseModules = []string{
	"mpm_event", "authz_core", "authz_host", "authn_core", "auth_basic", "mime", "dir", "alias",
	"env", "setenvif", "headers",
}

func previewCommand() *cli.Command {
	return &cli.Command{
		Name:      "preview",
		Usage:     "serve a mod_python site through a private Apache and mpgate, until Ctrl-C",
		ArgsUsage: "SITE.conf",
		Description: "SITE.conf is a mod_python site's configuration fragment (DocumentRoot, sections, handlers,\n" +
			"Includes), as it would be included into Debian's apache2.conf. preview rewrites a copy of it (see\n" +
			"package rewrite: the Python* lines go inside <IfDefine MPGATE>, next to a FastCGI handler), writes\n" +
			"a private Apache configuration around the copy, and runs Apache (apache2-bin) in the foreground on\n" +
			"--listen. With --via fcgid, mod_fcgid starts `mpgate fcgid` relays, which start the daemon as a\n" +
			"migrated site will; with --via proxy, preview starts `mpgate serve` itself and Apache reaches it\n" +
			"with mod_proxy_fcgi; with --via cgi, mod_cgid runs `mpgate cgi` per request. The .htaccess files\n" +
			"Apache would read under the site's DocumentRoots and <Directory> sections are served rewritten too\n" +
			"(as <Directory> sections of the private configuration), so raw Python* lines in them work; the\n" +
			"files themselves are left alone and read by the daemon. Ctrl-C stops Apache, then the daemon. SITE.conf and the files it names are\n" +
			"only read; all preview writes goes into --run-dir (by default a new directory, removed at the end\n" +
			"unless something failed). ${NAME} in SITE.conf comes from the environment, as with Apache.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Usage: "`HOST:PORT` Apache listens on, e.g. 127.0.0.1:8080 (required)"},
			&cli.StringFlag{Name: "via", Value: string(rewrite.ViaFcgid), Usage: "`fcgid` (mod_fcgid relays start the daemon), proxy (mod_proxy_fcgi to a daemon preview starts) or cgi (mod_cgid runs a relay per request)"},
			&cli.StringFlag{Name: "run-dir", Usage: "`DIR` for everything preview writes (default: a new directory under $TMPDIR)"},
			&cli.StringFlag{Name: "python", EnvVars: []string{"MPGATE_PYTHON"}, Value: "/usr/bin/python3", Usage: "Python interpreter the workers run"},
			&cli.StringSliceFlag{Name: "define", Aliases: []string{"D"}, Usage: "`NAME` defined as with apache2 -D, for Apache and mpgate (repeatable)"},
			&cli.StringFlag{Name: "server-root", Usage: "ServerRoot for the site's relative paths (default /etc/apache2 if it exists, else SITE.conf's directory)"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "the daemon's log level: debug, info, warn or error"},
			&cli.StringFlag{Name: "watch", Value: "auto", Usage: "the daemon's --watch: auto, poll or off"},
			&cli.StringFlag{Name: "poll-interval", Value: "1s", Usage: "the daemon's --poll-interval"},
			&cli.StringFlag{Name: "session-lock-wait", Usage: "the daemon's --session-lock-wait (default: the daemon's)"},
		},
		Action: runPreview,
	}
}

// previewer is one run of mpgate preview.
type previewer struct {
	arg        string // SITE.conf as given
	site       string // absolute
	via        rewrite.Via
	listen     string // HOST:PORT for Apache's Listen
	url        string
	serverRoot string
	python     string
	defines    []string
	logLevel   string
	watch      []string // the daemon's --watch and --poll-interval
	sessions   []string // the daemon's session flags that were given (--session-lock-wait)
	out, errw  io.Writer

	dir     string // everything preview writes
	created bool   // preview made dir, and removes it after a clean run
	run     string // the daemon's run directory: dir/run
	exe     string // the mpgate program Apache's user can run
	user    *user.User
	uid     int // of user, or -1 when preview does not run as root
	gid     int

	authzPortNum int // the daemon's --authz-listen port with --via proxy (authzPort)
}

const previewUsage = "usage: mpgate preview SITE.conf --listen 127.0.0.1:PORT [--via fcgid|proxy|cgi] [--run-dir DIR] [--python PATH] [-D NAME]"

// runPreview is preview's action: it checks the arguments and what is installed, prepares its
// directory, serves until the command's context is cancelled, and cleans up.
func runPreview(c *cli.Context) error {
	f, args, err := previewParse(c)
	if errors.Is(err, flag.ErrHelp) {
		return cli.ShowSubcommandHelp(c)
	}
	if err != nil {
		return cli.Exit(fmt.Sprintf("mpgate preview: %v\n%s", err, previewUsage), 2)
	}
	if len(args) != 1 || f.String("listen") == "" {
		return cli.Exit(previewUsage, 2)
	}
	p := &previewer{
		arg:      args[0],
		python:   f.String("python"),
		defines:  f.StringSlice("define"),
		logLevel: f.String("log-level"),
		watch:    []string{"--watch", f.String("watch"), "--poll-interval", f.String("poll-interval")},
		out:      c.App.Writer,
		errw:     &previewLockedWriter{w: c.App.ErrWriter},
		uid:      -1,
		gid:      -1,
	}
	if err := p.parseFlags(f); err != nil {
		return err
	}
	if v := f.String("session-lock-wait"); v != "" {
		if _, err := time.ParseDuration(v); err != nil {
			return cli.Exit(fmt.Sprintf("mpgate preview: --session-lock-wait %q: %v", v, err), 2)
		}
		p.sessions = append(p.sessions, "--session-lock-wait", v)
	}
	if err := checkPreviewInstalled(p.via); err != nil {
		return err
	}
	if err := p.prepare(f.String("run-dir")); err != nil {
		return err
	}
	err = p.serve(c.Context)
	if err == nil && p.created {
		if rerr := os.RemoveAll(p.dir); rerr != nil {
			fmt.Fprintf(p.errw, "mpgate preview: remove %s: %v\n", p.dir, rerr)
		}
	} else if err != nil {
		fmt.Fprintf(p.errw, "mpgate preview: configuration and logs kept in %s\n", p.dir)
	}
	return err
}

// previewFlags reads preview's flags wherever they were given: urfave/cli v2 stops parsing at the
// first argument that is not a flag, and the usage (like `make run`) puts them after SITE.conf.
type previewFlags struct {
	c     *cli.Context
	after *flag.FlagSet   // the flags that followed a positional argument
	set   map[string]bool // names set in after
}

// previewParse parses the arguments cli left unparsed, returning the flags and the positional
// arguments.
func previewParse(c *cli.Context) (previewFlags, []string, error) {
	f := previewFlags{c: c, after: flag.NewFlagSet(c.Command.Name, flag.ContinueOnError), set: map[string]bool{}}
	f.after.SetOutput(io.Discard)
	for _, fl := range c.Command.Flags {
		if err := fl.Apply(f.after); err != nil {
			return f, nil, err
		}
	}
	var positional []string
	for rest := c.Args().Slice(); len(rest) > 0; {
		if err := f.after.Parse(rest); err != nil {
			return f, nil, err
		}
		rest = f.after.Args()
		if len(rest) > 0 {
			positional = append(positional, rest[0])
			rest = rest[1:]
		}
	}
	f.after.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	return f, positional, nil
}

// String returns a string flag's value, the one given after SITE.conf if any.
func (f previewFlags) String(name string) string {
	if f.set[name] {
		return f.after.Lookup(name).Value.String()
	}
	return f.c.String(name)
}

// StringSlice returns every value of a repeatable flag, before and after SITE.conf.
func (f previewFlags) StringSlice(name string) []string {
	vals := f.c.StringSlice(name)
	for _, fl := range f.c.Command.Flags {
		names := fl.Names()
		if !slices.Contains(names, name) {
			continue
		}
		for _, n := range names {
			if f.set[n] {
				if ss, ok := f.after.Lookup(n).Value.(*cli.StringSlice); ok {
					return append(vals, ss.Value()...)
				}
			}
		}
	}
	return vals
}

// parseFlags checks the flags and fills in what they imply.
func (p *previewer) parseFlags(c previewFlags) error {
	var err error
	if p.site, err = filepath.Abs(p.arg); err != nil {
		return err
	}
	if fi, err := os.Stat(p.site); err != nil {
		return cli.Exit(fmt.Sprintf("mpgate preview: %v", err), 2)
	} else if fi.IsDir() {
		return cli.Exit(fmt.Sprintf("mpgate preview: %s is a directory; give the site's configuration file", p.arg), 2)
	}
	switch v := rewrite.Via(c.String("via")); v {
	case rewrite.ViaFcgid, rewrite.ViaProxy, rewrite.ViaCGI:
		p.via = v
	default:
		return cli.Exit(fmt.Sprintf("mpgate preview: --via %q: want fcgid, proxy or cgi", v), 2)
	}
	host, port, err := net.SplitHostPort(c.String("listen"))
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 1 || n > 65535 || host == "" {
		return cli.Exit(fmt.Sprintf("mpgate preview: --listen %q: want HOST:PORT, e.g. 127.0.0.1:8080", c.String("listen")), 2)
	}
	p.listen = net.JoinHostPort(host, port)
	p.url = "http://" + p.listen + "/"
	// Apache would fail to bind too, but only after preview saw someone else answer there.
	l, err := net.Listen("tcp", p.listen)
	if err != nil {
		return cli.Exit(fmt.Sprintf("mpgate preview: --listen %s: %v", p.listen, err), 1)
	}
	l.Close()
	p.serverRoot = c.String("server-root")
	if p.serverRoot == "" {
		p.serverRoot = filepath.Dir(p.site)
		if fi, err := os.Stat("/etc/apache2"); err == nil && fi.IsDir() {
			p.serverRoot = "/etc/apache2" // Debian's ServerRoot, which the fragment was written for
		}
	}
	if p.serverRoot, err = filepath.Abs(p.serverRoot); err != nil {
		return err
	}
	if fi, err := os.Stat(p.serverRoot); err != nil || !fi.IsDir() {
		return cli.Exit(fmt.Sprintf("mpgate preview: --server-root %s: not a directory", p.serverRoot), 2)
	}
	if slices.Contains(p.defines, "MPGATE") {
		return cli.Exit("mpgate preview: -D MPGATE: MPGATE is mpgate's own; Apache must never define it", 2)
	}
	return nil
}

// checkPreviewInstalled returns an error naming the Debian packages to install when Apache, a
// module preview needs for via, or /etc/mime.types is missing.
func checkPreviewInstalled(via rewrite.Via) error {
	need := map[string]string{previewApacheBin: "apache2-bin", "/etc/mime.types": "media-types"}
	for _, m := range previewModules(via) {
		pkg := "apache2-bin"
		if m == "fcgid" {
			pkg = "libapache2-mod-fcgid"
		}
		need[previewModulePath(m)] = pkg
	}
	var missing, pkgs []string
	for f, pkg := range need {
		if _, err := os.Stat(f); err != nil {
			missing = append(missing, f)
			if !slices.Contains(pkgs, pkg) {
				pkgs = append(pkgs, pkg)
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	slices.Sort(pkgs)
	return cli.Exit(fmt.Sprintf("mpgate preview: missing %s; install it with\n    apt-get install -y %s\n(`make run` does this)",
		strings.Join(missing, ", "), strings.Join(pkgs, " ")), 1)
}

func previewModules(via rewrite.Via) []string {
	switch via {
	case rewrite.ViaProxy:
		return append(slices.Clone(previewBaseModules), "proxy", "proxy_fcgi")
	case rewrite.ViaCGI:
		return append(slices.Clone(previewBaseModules), "cgid", "actions")
	}
	return append(slices.Clone(previewBaseModules), "fcgid")
}

func previewModulePath(name string) string { return previewModulesDir + "/mod_" + name + ".so" }

// prepare makes preview's directory (dir, or a new one) and the mpgate program Apache's user can
// run, and stops a daemon a previous run left in it.
func (p *previewer) prepare(dir string) error {
	if os.Geteuid() == 0 {
		u, err := user.Lookup(previewUser)
		if err != nil {
			return fmt.Errorf("running as root, Apache's children run as %s: %w", previewUser, err)
		}
		p.user = u
		if p.uid, err = strconv.Atoi(u.Uid); err != nil {
			return fmt.Errorf("user %s: uid %q: %w", previewUser, u.Uid, err)
		}
		if p.gid, err = strconv.Atoi(u.Gid); err != nil {
			return fmt.Errorf("user %s: gid %q: %w", previewUser, u.Gid, err)
		}
	}
	if dir == "" {
		base := os.TempDir()
		if p.user != nil && !previewTraversable(base) {
			base = "/tmp" // $TMPDIR under /root: Apache's user could not reach anything there
		}
		d, err := os.MkdirTemp(base, "mpgate-preview-")
		if err != nil {
			return err
		}
		p.dir, p.created = d, true
	} else {
		d, err := filepath.Abs(dir)
		if err != nil {
			return err
		}
		p.dir = d
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		if ents, err := os.ReadDir(d); err != nil {
			return err
		} else if _, err := os.Stat(filepath.Join(d, previewMarker)); len(ents) > 0 && err != nil {
			return cli.Exit(fmt.Sprintf("mpgate preview: --run-dir %s is not empty and was not made by mpgate preview; give a new or empty directory", d), 2)
		}
	}
	if err := os.WriteFile(filepath.Join(p.dir, previewMarker), []byte("made by mpgate preview; reused by later runs\n"), 0o644); err != nil {
		return err
	}
	// Preview's own earlier output: the rewrite needs an empty directory, the logs start afresh.
	for _, old := range []string{"site", "logs"} {
		if err := os.RemoveAll(filepath.Join(p.dir, old)); err != nil {
			return err
		}
	}
	p.run = filepath.Join(p.dir, "run")
	for _, d := range []string{p.dir, p.run, filepath.Join(p.dir, "apache"), filepath.Join(p.dir, "apache", "fcgid"), filepath.Join(p.dir, "logs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		if err := os.Chmod(d, 0o755); err != nil { // MkdirTemp makes 0700; Apache's user must get through
			return err
		}
	}
	if p.user != nil {
		if !previewTraversable(p.dir) {
			return fmt.Errorf("%s: Apache's user %s cannot reach it (a directory above it is closed to others); give --run-dir elsewhere", p.dir, previewUser)
		}
		if p.via == rewrite.ViaFcgid || p.via == rewrite.ViaCGI {
			// mod_fcgid's relays (or the CGI ones), and the daemon they start, run as Apache's
			// user and write in the run directory; mod_fcgid's process manager makes its sockets
			// as that user too.
			for _, d := range []string{p.run, filepath.Join(p.dir, "apache", "fcgid")} {
				if err := previewChown(d, p.uid, p.gid); err != nil {
					return err
				}
			}
			if !previewReadable(p.site) {
				fmt.Fprintf(p.errw, "mpgate preview: warning: %s may not be readable by %s, who runs the daemon with --via %s\n", p.site, previewUser, p.via)
			}
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	p.exe = exe
	if p.user != nil && !previewReadable(exe) {
		// `go run` builds under /root/.cache: copy the program where Apache's user can run it.
		p.exe = filepath.Join(p.dir, "bin", "mpgate")
		if err := previewCopyFile(exe, p.exe, 0o755); err != nil {
			return fmt.Errorf("copy %s for %s: %w", exe, previewUser, err)
		}
	}
	return p.stopLeftDaemon()
}

// serve runs the preview until ctx is cancelled or Apache or the daemon stops by itself.
func (p *previewer) serve(ctx context.Context) error {
	conf, err := p.writeConfig()
	if err != nil {
		return err
	}
	if out, err := p.apache(append([]string{"-t", "-f", conf}, previewDefineArgs(p.defines)...)...).CombinedOutput(); err != nil {
		return fmt.Errorf("apache2 -t on %s:\n%s", conf, out)
	}
	errorLog := filepath.Join(p.dir, "logs", "error.log")
	logFile, err := os.OpenFile(errorLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()

	followCtx, stopFollow := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		previewFollow(followCtx, errorLog, p.errw)
	}()
	defer func() {
		stopFollow()
		wg.Wait()
	}()

	var daemon *previewChild
	if p.via == rewrite.ViaProxy {
		cmd := exec.Command(p.exe, p.serveArgs()...)
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if daemon, err = startPreviewChild("the daemon", cmd, previewDaemonStop); err != nil {
			return fmt.Errorf("start the daemon: %w", err)
		}
		defer p.stopChild(daemon, hardStop(ctx))
		if err := p.waitDial(ctx, "unix", filepath.Join(p.run, "mpgate.sock"), daemon, previewDaemonStart); err != nil {
			if ctx.Err() != nil {
				return nil // Ctrl-C while starting
			}
			return fmt.Errorf("the daemon (mpgate serve): %w; see %s", err, errorLog)
		}
	} else {
		defer p.stopRelayDaemon(hardStop(ctx))
	}

	cmd := p.apache(append([]string{"-f", conf, "-DFOREGROUND"}, previewDefineArgs(p.defines)...)...)
	// What Apache says before it opens ErrorLog goes there too, and so to the follower.
	cmd.Stdout, cmd.Stderr = logFile, logFile
	apache, err := startPreviewChild("Apache", cmd, previewApacheStop)
	if err != nil {
		return fmt.Errorf("start %s: %w", previewApacheBin, err)
	}
	defer p.stopChild(apache, hardStop(ctx))
	if err := p.waitDial(ctx, "tcp", p.listen, apache, previewApacheStart); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("apache2: %w; see %s", err, errorLog)
	}

	fmt.Fprintf(p.out, "mpgate preview: serving %s via %s at %s\n", p.arg, p.via, p.url)
	fmt.Fprintf(p.out, "  error log (Apache and mpgate): %s\n", errorLog)
	fmt.Fprintf(p.out, "  access log: %s\n", filepath.Join(p.dir, "logs", "access.log"))
	fmt.Fprintf(p.out, "  configuration: %s (the site rewritten under %s)\n", conf, filepath.Join(p.dir, "site"))
	fmt.Fprintf(p.out, "  stop with Ctrl-C\n")

	var daemonDone <-chan struct{}
	if daemon != nil {
		daemonDone = daemon.done
	}
	select {
	case <-ctx.Done():
		fmt.Fprintf(p.out, "mpgate preview: stopping\n")
		return nil
	case <-apache.done:
		return fmt.Errorf("apache2 exited (%v); see %s", apache.err, errorLog)
	case <-daemonDone:
		return fmt.Errorf("the daemon exited (%v); see %s", daemon.err, errorLog)
	}
}

// writeConfig rewrites the site into dir/site and writes the server configuration around it,
// returning the latter's path.
func (p *previewer) writeConfig() (string, error) {
	// The daemon reads SITE.conf alone; the ServerName of the server
	// configuration written around it is passed so that interpreter names
	// and req.server match what Apache (and mod_python) use.
	args := append([]string{"--python", p.python, "--log-level", p.logLevel, "--server-name", previewServerName}, p.watch...)
	args = append(args, p.sessions...)
	res, err := rewrite.Site(p.site, rewrite.Options{
		OutDir:     filepath.Join(p.dir, "site"),
		Via:        p.via,
		Socket:     filepath.Join(p.run, "mpgate.sock"),
		Mpgate:     p.exe,
		RunDir:     p.run,
		ServerRoot: p.serverRoot,
		Defines:    p.defines,
		Args:       args,
		// The site's .htaccess files, rewritten into <Directory> sections Apache reads
		// instead of them (they may hold Python* lines); the daemon reads the originals.
		AccessFiles: true,
	})
	if err != nil {
		return "", err
	}
	var env []string // NAME VALUE pairs for FcgidInitialEnv
	for _, name := range res.Env {
		if v, ok := os.LookupEnv(name); ok {
			env = append(env, name, v)
		} else {
			fmt.Fprintf(p.errw, "mpgate preview: warning: %s refers to ${%s}, which is neither Defined nor set in the environment\n", p.arg, name)
		}
	}
	snippet := apacheconf.Proxy
	switch p.via {
	case rewrite.ViaFcgid:
		snippet = apacheconf.Fcgid
	case rewrite.ViaCGI:
		snippet = previewCGISnippet
	}
	data, err := apacheconf.FS.ReadFile(snippet)
	if err != nil {
		return "", err
	}
	snippetPath := filepath.Join(p.dir, snippet)
	if err := os.WriteFile(snippetPath, data, 0o644); err != nil {
		return "", err
	}
	conf := filepath.Join(p.dir, "httpd.conf")
	if err := os.WriteFile(conf, []byte(p.serverConfig(snippetPath, res.Main, res.AccessConf, env)), 0o644); err != nil {
		return "", err
	}
	return conf, nil
}

// serverConfig returns the private server configuration: what Debian's apache2.conf and enabled
// modules provide, the mpgate snippet, then the rewritten site.
func (p *previewer) serverConfig(snippet, site, access string, env []string) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	q := previewQuote
	line("# Written by mpgate preview for %s; rewritten on every run.", p.site)
	line("# Every path preview owns is absolute; ServerRoot is the site's, for its relative paths.")
	line("ServerRoot %s", q(p.serverRoot))
	line("Listen %s", p.listen)
	line("ServerName " + previewServerName)
	line("PidFile %s", q(filepath.Join(p.dir, "apache", "httpd.pid")))
	// No "Mutex file:..." (Debian's stock line): fcntl locks make mod_fcgid under mpm_event fail
	// (shared/anchors/start.sh); the runtime directory holds what else Apache creates.
	line("DefaultRuntimeDir %s", q(filepath.Join(p.dir, "apache")))
	line("ErrorLog %s", q(filepath.Join(p.dir, "logs", "error.log")))
	line("LogLevel warn")
	line(`LogFormat "%%h %%l %%u %%t \"%%r\" %%>s %%b %%D" preview`)
	line("CustomLog %s preview", q(filepath.Join(p.dir, "logs", "access.log")))
	if p.user != nil {
		line("User %s", previewUser)
		line("Group #%d", p.gid)
	}
	line("")
	for _, m := range previewModules(p.via) {
		line("LoadModule %s_module %s", m, previewModulePath(m))
	}
	line("StartServers 1")
	line("ServerLimit 4")
	line("ThreadsPerChild 16")
	line("MaxRequestWorkers 64")
	line("MinSpareThreads 16")
	line("MaxSpareThreads 48")
	line("Timeout 300")
	line("KeepAlive On")
	line("TypesConfig /etc/mime.types")
	line("")
	line("# As Debian's apache2.conf.")
	line("AccessFileName .htaccess")
	line("<Directory />")
	line("    Options FollowSymLinks")
	line("    AllowOverride None")
	line("    Require all denied")
	line("</Directory>")
	line("<Directory /usr/share>")
	line("    AllowOverride None")
	line("    Require all granted")
	line("</Directory>")
	line("<Directory /var/www/>")
	line("    Options Indexes FollowSymLinks")
	line("    AllowOverride None")
	line("    Require all granted")
	line("</Directory>")
	line(`<FilesMatch "^\.ht">`)
	line("    Require all denied")
	line("</FilesMatch>")
	line("")
	line("# mpgate")
	if p.via == rewrite.ViaFcgid {
		line("FcgidIPCDir %s", q(filepath.Join(p.dir, "apache", "fcgid")))
		line("FcgidProcessTableFile %s", q(filepath.Join(p.dir, "apache", "fcgid_shm")))
	}
	line("Define MPGATE_BIN %s", q(p.exe))
	line("Define MPGATE_CONFIG %s", q(p.site))
	line("Define MPGATE_RUN %s", q(p.run))
	if p.via == rewrite.ViaProxy {
		line("Define MPGATE_AUTHZ_PORT %d", p.authzPort())
	}
	line("Include %s", q(snippet))
	for i := 0; p.via == rewrite.ViaFcgid && i+1 < len(env); i += 2 {
		// The daemon a relay starts reads the site too, and gets no other environment.
		line("FcgidInitialEnv %s %s", env[i], q(env[i+1]))
	}
	line("")
	if p.via == rewrite.ViaCGI {
		// The relay gets its flags as environment variables (apache-conf/mpgate-cgi.conf) and
		// passes them on to the daemon it starts.
		line("<Location /mpgate-cgi>")
		line("    SetEnv MPGATE_SERVER_ROOT %s", q(p.serverRoot))
		line("    SetEnv MPGATE_PYTHON %s", q(p.python))
		line("    SetEnv MPGATE_LOG_LEVEL %s", q(p.logLevel))
		line("    SetEnv MPGATE_SERVER_NAME %s", previewServerName)
		line("    SetEnv MPGATE_WATCH %s", q(p.watch[1]))
		line("    SetEnv MPGATE_POLL_INTERVAL %s", q(p.watch[3]))
		if len(p.defines) > 0 {
			line("    SetEnv MPGATE_DEFINES %s", q(strings.Join(p.defines, ",")))
		}
		for i := 0; i+1 < len(p.sessions); i += 2 {
			line("    SetEnv MPGATE_%s %s", strings.ToUpper(strings.ReplaceAll(strings.TrimPrefix(p.sessions[i], "--"), "-", "_")), q(p.sessions[i+1]))
		}
		for i := 0; i+1 < len(env); i += 2 {
			line("    SetEnv %s %s", env[i], q(env[i+1]))
		}
		line("</Location>")
	}
	line("")
	line("# The site, rewritten from %s", p.site)
	line("Include %s", q(site))
	if access != "" {
		line("# Its .htaccess files, rewritten; Apache reads no access file itself.")
		line("Include %s", q(access))
	}
	return b.String()
}

// previewQuote writes s as one quoted configuration argument.
func previewQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func previewDefineArgs(defines []string) []string {
	var args []string
	for _, d := range defines {
		args = append(args, "-D", d)
	}
	return args
}

// previewCGISnippet is apache-conf's snippet for the CGI relay.
const previewCGISnippet = "mpgate-cgi.conf"

// previewServerName is the ServerName of the server configuration preview
// writes around a site.
const previewServerName = "127.0.0.1"

// serveArgs are the arguments of the daemon preview starts with --via proxy; the relays start it
// with the same ones (rewrite puts them on the FcgidWrapper line).
func (p *previewer) serveArgs() []string {
	args := []string{"serve", "--config", p.site, "--run-dir", p.run, "--server-root", p.serverRoot,
		"--python", p.python, "--log-level", p.logLevel, "--server-name", previewServerName}
	if p.via == rewrite.ViaProxy {
		args = append(args, "--authz-listen", "127.0.0.1:"+strconv.Itoa(p.authzPort()))
	}
	args = append(args, p.watch...)
	args = append(args, p.sessions...)
	return append(args, previewDefineArgs(p.defines)...)
}

// apache returns a command running apache2 with Apache's usual environment plus preview's, so
// that ${NAME} in the site means what it means to preview.
func (p *previewer) apache(args ...string) *exec.Cmd {
	cmd := exec.Command(previewApacheBin, args...)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), "LANG=C")
	return cmd
}

// previewChild is a process preview started and waits for.
type previewChild struct {
	name  string // for messages: "Apache", "the daemon"
	cmd   *exec.Cmd
	limit time.Duration // how long it may take to stop after SIGTERM
	done  chan struct{} // closed when the process has exited and been waited for
	err   error         // cmd.Wait's error, set before done is closed
}

// startPreviewChild starts cmd in a process group of its own (a Ctrl-C in the terminal reaches
// preview only, which then stops the children in order), ended with SIGTERM if preview dies.
func startPreviewChild(name string, cmd *exec.Cmd, limit time.Duration) (*previewChild, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ch := &previewChild{name: name, cmd: cmd, limit: limit, done: make(chan struct{})}
	go func() {
		ch.err = cmd.Wait()
		close(ch.done)
	}()
	return ch, nil
}

// stopChild sends SIGTERM to a child and waits for it; when it takes longer than its limit or
// hard is cancelled (a second Ctrl-C), it sends SIGKILL to its whole process group.
func (p *previewer) stopChild(ch *previewChild, hard context.Context) {
	select {
	case <-ch.done:
	default:
		ch.cmd.Process.Signal(syscall.SIGTERM)
		timer := time.NewTimer(ch.limit)
		defer timer.Stop()
		select {
		case <-ch.done:
		case <-timer.C:
			fmt.Fprintf(p.errw, "mpgate preview: %s did not stop within %v; killing it\n", ch.name, ch.limit)
		case <-hard.Done():
		}
	}
	// Apache's children, mod_fcgid's relays: whatever of the group is left.
	syscall.Kill(-ch.cmd.Process.Pid, syscall.SIGKILL)
	<-ch.done
}

// waitDial waits until network/addr accepts a connection, ctx is cancelled, ch exits or limit
// passes.
func (p *previewer) waitDial(ctx context.Context, network, addr string, ch *previewChild, limit time.Duration) error {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(previewPoll)
	defer tick.Stop()
	for {
		if c, err := net.DialTimeout(network, addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch.done:
			return fmt.Errorf("exited (%v) before %s accepted connections", ch.err, addr)
		case <-deadline.C:
			return fmt.Errorf("%s accepted no connection within %v", addr, limit)
		case <-tick.C:
		}
	}
}

// relayDaemon returns the daemon that a mod_fcgid relay started in preview's run directory, from
// its pid file: 0 if there is none, or if the process there is not an `mpgate serve` of this run
// directory (the pid was reused).
func (p *previewer) relayDaemon() int {
	b, err := os.ReadFile(filepath.Join(p.run, "mpgate.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return 0
	}
	args := strings.Split(string(cmdline), "\x00")
	if !slices.Contains(args, "serve") || !slices.Contains(args, p.run) {
		return 0
	}
	return pid
}

// stopRelayDaemon stops the daemon a mod_fcgid relay started (it runs in a session of its own
// and outlives the relays), by the pid it wrote, waiting for it as stopChild does.
func (p *previewer) stopRelayDaemon(hard context.Context) {
	pid := p.relayDaemon()
	if pid == 0 {
		return
	}
	syscall.Kill(pid, syscall.SIGTERM)
	if waitExited(hard, pid, previewDaemonStop) {
		return
	}
	if hard.Err() == nil {
		fmt.Fprintf(p.errw, "mpgate preview: the daemon (pid %d) did not stop within %v; killing it\n", pid, previewDaemonStop)
	}
	syscall.Kill(pid, syscall.SIGKILL)
}

// stopLeftDaemon stops a daemon that an earlier preview of the same directory left running (a
// relay-started daemon lives on for its idle period): it would hold the run directory.
func (p *previewer) stopLeftDaemon() error {
	if p.relayDaemon() == 0 {
		return nil
	}
	fmt.Fprintf(p.errw, "mpgate preview: stopping the daemon an earlier preview left in %s\n", p.run)
	p.stopRelayDaemon(context.Background())
	return nil
}

// previewFollow copies what is appended to the file path to w until ctx is cancelled, then
// copies what is left.
func previewFollow(ctx context.Context, path string, w io.Writer) {
	tick := time.NewTicker(previewPoll)
	defer tick.Stop()
	var f *os.File
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	for {
		if f == nil {
			f, _ = os.Open(path)
		}
		if f != nil {
			io.Copy(w, f)
		}
		select {
		case <-ctx.Done():
			if f != nil {
				io.Copy(w, f)
			}
			return
		case <-tick.C:
		}
	}
}

// previewLockedWriter serialises writes: the error log's follower and preview's own messages
// share the command's error output.
type previewLockedWriter struct {
	mu sync.Mutex // guards w
	w  io.Writer
}

func (l *previewLockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// previewTraversable reports whether others may search dir and every directory above it.
func previewTraversable(dir string) bool {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == filepath.Dir(d) {
			return true
		}
	}
}

// previewReadable reports whether others may read the file path (and reach it).
func previewReadable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().Perm()&0o004 != 0 && previewTraversable(filepath.Dir(path))
}

// previewChown gives dir and everything below it to uid:gid.
func previewChown(dir string, uid, gid int) error {
	return filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

func previewCopyFile(src, dst string, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, dst) // a running relay keeps the old file
}
