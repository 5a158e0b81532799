// This file is `mpgate migrate`: it reads a server's real Apache configuration and prints, applies
// or reverts the change that makes Apache hand the chosen sections to mpgate in place (package
// rewrite, Migrate), checking the result with apachectl -t.

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	apacheconf "github.com/mpgate/mpgate/apache-conf"
	"github.com/mpgate/mpgate/rewrite"
)

const (
	migrateDefaultConfig  = "/etc/apache2/apache2.conf"
	migrateDefaultSnippet = "/usr/share/mpgate/apache-conf"
	// The daemon's run directory: systemd's RuntimeDirectory for a daemon it runs (proxy); a
	// directory that survives reboots for one the relays start as Apache's user (fcgid, cgi),
	// which cannot create anything in /run.
	migrateDefaultRun      = "/run/mpgate"
	migrateDefaultRelayRun = "/var/lib/mpgate/run"
)

func migrateCommand() *cli.Command {
	return &cli.Command{
		Name:  "migrate",
		Usage: "move sections of a mod_python site to mpgate in the real Apache configuration, one at a time",
		Description: "migrate reads Apache's configuration (--config, Debian's apache2.conf by default, with every file it\n" +
			"includes and the .htaccess files Apache reads) and prints, as a unified diff, the change that makes\n" +
			"Apache hand the chosen sections to mpgate: their Python* and mod_python handler lines are kept, inside\n" +
			"<IfDefine MPGATE> (hidden from Apache and from a still-loaded mod_python; mpgate reads them), next to\n" +
			"the FastCGI handler (--via), and the apache-conf snippet is included once at server level. Sections\n" +
			"not chosen stay as they are, served by mod_python. Apply the diff with --apply (or `patch -d / -p1`):\n" +
			"each file changed gets a backup FILE.mpgate-orig, made before its first change, and the result must\n" +
			"pass apachectl -t, else everything is put back. --revert restores every backup. Running migrate again\n" +
			"changes nothing. When no section is left to mod_python, --disable-mod-python also stops loading it.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Aliases: []string{"f"}, Value: migrateDefaultConfig, Usage: "Apache's main configuration `FILE`"},
			&cli.StringFlag{Name: "server-root", Usage: "Apache's ServerRoot `DIR` (default: the directory of --config)"},
			&cli.StringSliceFlag{Name: "section", Usage: "`PATH` of a <Directory> (directory), <Location> (URL path) or .htaccess directory to migrate, with the sections below it (repeatable; default: all)"},
			&cli.StringFlag{Name: "via", Value: string(rewrite.ViaFcgid), Usage: "`fcgid` (mod_fcgid starts mpgate relays), proxy (mod_proxy_fcgi to a running mpgate serve) or cgi (mod_cgi/mod_cgid)"},
			&cli.StringFlag{Name: "run-dir", Usage: "the daemon's run `DIR` (default " + migrateDefaultRun + " with --via proxy, else " + migrateDefaultRelayRun + ", which --apply creates for Apache's user)"},
			&cli.StringFlag{Name: "mpgate", Usage: "the mpgate `PROGRAM` Apache runs (default: /usr/bin/mpgate if present, else this program)"},
			&cli.StringFlag{Name: "snippet-dir", Value: migrateDefaultSnippet, Usage: "`DIR` holding apache-conf's snippets (created there when missing)"},
			&cli.StringSliceFlag{Name: "define", Aliases: []string{"D"}, Usage: "`NAME` Apache is started with (-D NAME), repeatable"},
			&cli.IntFlag{Name: "authz-port", Usage: "with --via proxy, the `PORT` of mpgate serve --authz-listen 127.0.0.1:PORT, to which mod_authnz_fcgi sends the sections' PythonAuthenHandler (needed when a migrated section has one)"},
			&cli.BoolFlag{Name: "apply", Usage: "write the change (with backups) and check it with apachectl -t"},
			&cli.BoolFlag{Name: "revert", Usage: "restore every file migrate changed, from the backups"},
			&cli.BoolFlag{Name: "disable-mod-python", Usage: "also stop loading mod_python (a2dismod python); every section must be migrated"},
			&cli.StringFlag{Name: "check-command", Usage: "shell `COMMAND` checking the configuration (default: apachectl -t for Debian's, else apache2 -t -d ROOT -f CONFIG with ROOT/envvars)"},
		},
		Action: runMigrate,
	}
}

// migrateRun is one run of mpgate migrate.
type migrateRun struct {
	c       *cli.Context
	config  string
	root    string
	defines []string
	env     map[string]string // ROOT/envvars, as Apache's start script sets it
	run     string            // the daemon's run directory (--run-dir or the default for --via)
}

func runMigrate(c *cli.Context) error {
	if c.NArg() > 0 {
		return cli.Exit(fmt.Sprintf("mpgate migrate: unexpected argument %q (the configuration is --config)", c.Args().First()), 2)
	}
	r := &migrateRun{c: c, defines: c.StringSlice("define")}
	var err error
	if r.config, err = filepath.Abs(c.String("config")); err != nil {
		return err
	}
	r.root = c.String("server-root")
	if r.root == "" {
		r.root = filepath.Dir(r.config)
	}
	if r.root, err = filepath.Abs(r.root); err != nil {
		return err
	}
	if _, err := os.Stat(r.config); err != nil {
		return cli.Exit(fmt.Sprintf("mpgate migrate: --config: %v", err), 2)
	}
	if c.Bool("apply") && c.Bool("revert") {
		return cli.Exit("mpgate migrate: --apply and --revert exclude each other", 2)
	}
	if r.env, err = readEnvvars(filepath.Join(r.root, "envvars")); err != nil {
		return cli.Exit(fmt.Sprintf("mpgate migrate: %v", err), 1)
	}
	state := rewrite.StatePath(r.config)
	if c.Bool("revert") {
		st, err := rewrite.Revert(state, r.check)
		if st != nil {
			for _, p := range st.Backups {
				fmt.Fprintf(c.App.Writer, "restored %s\n", p)
			}
			for _, p := range st.Created {
				fmt.Fprintf(c.App.Writer, "removed %s\n", p)
			}
			for _, l := range st.Links {
				fmt.Fprintf(c.App.Writer, "restored the link %s -> %s\n", l.Path, l.Target)
			}
		}
		if err != nil {
			return cli.Exit(fmt.Sprintf("mpgate migrate --revert: %v", err), 1)
		}
		return nil
	}

	via := rewrite.Via(c.String("via"))
	snippet := map[rewrite.Via]string{rewrite.ViaProxy: apacheconf.Proxy, rewrite.ViaFcgid: apacheconf.Fcgid, rewrite.ViaCGI: "mpgate-cgi.conf"}[via]
	if snippet == "" {
		return cli.Exit(fmt.Sprintf("mpgate migrate: --via %q: want fcgid, proxy or cgi", via), 2)
	}
	text, err := apacheconf.FS.ReadFile(snippet)
	if err != nil {
		text = nil // not built in: it must be installed in --snippet-dir
	}
	exe := c.String("mpgate")
	if exe == "" {
		exe = "/usr/bin/mpgate"
		if _, err := os.Stat(exe); err != nil {
			if exe, err = os.Executable(); err != nil {
				return err
			}
		}
	}
	runDir := c.String("run-dir")
	if runDir == "" {
		runDir = migrateDefaultRelayRun
		if via == rewrite.ViaProxy {
			runDir = migrateDefaultRun
		}
	}
	run, err := filepath.Abs(runDir)
	if err != nil {
		return err
	}
	r.run = run
	snippetDir, err := filepath.Abs(c.String("snippet-dir"))
	if err != nil {
		return err
	}
	opts := rewrite.MigrateOptions{
		Config:           r.config,
		ServerRoot:       r.root,
		Via:              via,
		Mpgate:           exe,
		RunDir:           run,
		Defines:          r.defines,
		AuthzPort:        c.Int("authz-port"),
		Sections:         c.StringSlice("section"),
		DisableModPython: c.Bool("disable-mod-python"),
		SnippetDir:       snippetDir,
		SnippetText:      text,
		LookupEnv:        r.lookupEnv,
	}
	plan, err := rewrite.Migrate(opts)
	if err != nil {
		return cli.Exit(fmt.Sprintf("mpgate migrate: %v", strings.TrimPrefix(err.Error(), "rewrite: ")), 1)
	}
	r.summary(plan)
	if len(plan.Files) == 0 && len(plan.RemoveLinks) == 0 {
		fmt.Fprintf(c.App.ErrWriter, "mpgate migrate: nothing to change\n")
		return nil
	}
	if !c.Bool("apply") {
		fmt.Fprint(c.App.Writer, plan.Diff())
		return nil
	}
	if err := plan.Apply(state, r.check); err != nil {
		return cli.Exit(fmt.Sprintf("mpgate migrate --apply: %v", err), 1)
	}
	if via != rewrite.ViaProxy {
		if err := r.relayRunDir(run); err != nil {
			return cli.Exit(fmt.Sprintf("mpgate migrate --apply: run directory %s: %v (create it, writable by Apache's user)", run, err), 1)
		}
	}
	for _, f := range plan.Files {
		if f.Created {
			fmt.Fprintf(c.App.Writer, "created %s\n", f.Path)
		} else {
			fmt.Fprintf(c.App.Writer, "changed %s (backup: %s%s)\n", f.Path, f.Path, rewrite.BackupSuffix)
		}
	}
	for _, l := range plan.RemoveLinks {
		fmt.Fprintf(c.App.Writer, "removed the link %s (a2dismod)\n", l.Path)
	}
	fmt.Fprintf(c.App.Writer, "the configuration passes the check; reload Apache to use it (systemctl reload apache2); undo with mpgate migrate --revert\n")
	return nil
}

// summary writes, on the error output (the diff goes to the output), where each section stands
// and what is left to do.
func (r *migrateRun) summary(p *rewrite.Plan) {
	w := r.c.App.ErrWriter
	fmt.Fprintf(w, "mpgate migrate: sections of %s using mod_python:\n", r.config)
	for _, s := range p.Sections {
		where := s.File
		if s.Line > 0 {
			where = fmt.Sprintf("%s:%d", s.File, s.Line)
		}
		fmt.Fprintf(w, "  %-11s %s  (%s; --section %s)\n", s.State, s.Label, where, s.Path)
	}
	for _, l := range p.RemoveLinks {
		fmt.Fprintf(w, "  also removes the link %s -> %s (as a2dismod does; not part of the diff)\n", l.Path, l.Target)
	}
	if p.Full && len(p.ModPython) > 0 {
		fmt.Fprintf(w, "  afterwards mod_python serves nothing: disable it (a2dismod python, or mpgate migrate --apply --disable-mod-python); it is loaded at %s\n", strings.Join(p.ModPython, ", "))
	}
	if !r.c.Bool("apply") && len(p.Files) > 0 {
		fmt.Fprintf(w, "  apply with the same flags and --apply (backups, apachectl -t), or: patch -d / -p1 < DIFF\n")
	}
	switch p.Via {
	case rewrite.ViaProxy:
		authz := ""
		if port := r.c.Int("authz-port"); port > 0 {
			authz = fmt.Sprintf(" --authz-listen 127.0.0.1:%d", port)
		}
		fmt.Fprintf(w, "  --via proxy: run the daemon, e.g. mpgate serve --config %s --run-dir %s%s (packaging/mpgate.service)\n", r.config, r.run, authz)
	}
}

// check runs the configuration check: --check-command, or apachectl -t / apache2 -t.
func (r *migrateRun) check() error {
	var cmd *exec.Cmd
	if cc := r.c.String("check-command"); cc != "" {
		cmd = exec.Command("/bin/sh", "-c", cc)
	} else if path, err := exec.LookPath("apachectl"); err == nil && r.config == migrateDefaultConfig && len(r.defines) == 0 {
		cmd = exec.Command(path, "-t")
	} else {
		args := []string{"-t", "-d", r.root, "-f", r.config}
		for _, d := range r.defines {
			args = append(args, "-D", d)
		}
		cmd = exec.Command(previewApacheBin, args...)
		cmd.Env = os.Environ()
		for k, v := range r.env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, "MPGATE_CONFIG="+r.config, "MPGATE_SERVER_ROOT="+r.root)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// relayRunDir makes sure the run directory the relays start the daemon in exists and belongs to
// the user Apache's children run as (APACHE_RUN_USER from envvars, else www-data) when migrate
// runs as root: the relays run as that user and create the daemon's socket there.
func (r *migrateRun) relayRunDir(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return nil
	}
	name, ok := r.lookupEnv("APACHE_RUN_USER")
	if !ok || name == "" {
		name = "www-data"
	}
	u, err := user.Lookup(name)
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return os.Chown(dir, uid, gid)
}

// lookupEnv is Apache's environment: ROOT/envvars over migrate's own.
func (r *migrateRun) lookupEnv(name string) (string, bool) {
	if v, ok := r.env[name]; ok {
		return v, true
	}
	return os.LookupEnv(name)
}

// readEnvvars returns the variables the shell fragment path (Debian's envvars, which apachectl
// sources before starting Apache) exports; none if it does not exist.
func readEnvvars(path string) (map[string]string, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	cmd := exec.Command("/bin/sh", "-c", `. "$1" >/dev/null 2>&1 || exit 1; env -0`, "sh", path)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	env := make(map[string]string)
	for _, kv := range strings.Split(string(out), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "PWD" && k != "SHLVL" && k != "_" {
			env[k] = v
		}
	}
	return env, nil
}
