// This file is the package's entry points: Options, Load, Parse and the
// Config they return.

package config

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
)

// Limits of one Load and of the Config it returns. Apache allows 128 nested Includes
// (AP_MAX_INCLUDE_DEPTH); a site needing more than 16 has a loop.
const (
	maxIncludeDepth = 16       // nested Include directives, and directory levels under one Include
	maxFileBytes    = 16 << 20 // one file
	maxTotalBytes   = 64 << 20 // all files of one Load
	maxFiles        = 10000    // files read by one Load
	maxErrors       = 50       // errors collected before reading stops
	maxWarnings     = 1000     // warnings kept; later ones are counted in a last one
	maxCacheEntries = 4096     // each of Lookup's two caches; then an eighth is evicted at random
)

// apacheVersion is what <IfVersion> compares against: mpgate runs behind a
// stock Apache 2.4, and patch-level comparisons assume this release (the one
// the package was checked against).
var apacheVersion = [3]int{2, 4, 71}

// Options says how to read a configuration. The zero value reads it the way
// Debian's apache2 would, with no -D flags.
type Options struct {
	// ServerRoot is the directory relative Include, LoadModule and ServerRoot
	// paths are resolved against until a ServerRoot directive changes it.
	// Default "/etc/apache2", Debian's compiled-in HTTPD_ROOT.
	ServerRoot string
	// Defines are the names given to httpd with -D, for <IfDefine>. MPGATE is
	// always defined, so migrated sections can keep their Python directives
	// inside <IfDefine MPGATE>, which Apache itself skips.
	Defines []string
	// Modules are module names ("mod_rewrite.c" or "rewrite_module") that
	// <IfModule> treats as loaded, besides mod_python, httpd's compiled-in
	// modules and those named by LoadModule lines.
	Modules []string
	// EnvVarsFile is a shell file whose exported variables ${VAR} may use,
	// like Debian's envvars. Default: ServerRoot/envvars if it exists.
	EnvVarsFile string
	// ServerName is the main server's name when the configuration sets
	// none. Apache then uses the machine's fully qualified host name, which
	// the caller knows better (mpgate preview passes the name of the server
	// configuration it writes around a site fragment). "" keeps no name, and
	// the interpreter is then "main_interpreter".
	ServerName string
	// Logger receives nothing on the hot path; Load logs a summary of what it
	// read at debug level. Nil means discard.
	Logger *slog.Logger
	// HtaccessStat makes Lookup check .htaccess files with stat on every
	// request instead of watching their directories with inotify (which
	// it falls back to by itself where inotify is unavailable).
	HtaccessStat bool

	fs fileSystem // nil means the operating system's
}

// Config is a loaded configuration. It is immutable, and safe for concurrent
// use by any number of goroutines calling Lookup.
type Config struct {
	// Warnings lists what was accepted but will not behave as under
	// Apache + mod_python, or was not evaluated, in file order.
	Warnings []Warning
	// Errors lists every broken line found. A Config with errors is returned
	// only so that Check can show them; it must not serve requests.
	Errors []*Error

	main     *VirtualHost
	vhosts   []*VirtualHost
	sections []*section // every section, indexed by section.idx
	imports  []Import
	defines  []string
	optimize bool // some PythonOptimize On
	listen   []string
	tree     []*node
	sel      selector
	cache    lookupCache
	logger   *slog.Logger
	rs       readState // for reading .htaccess files
	ht       htCache
}

// readState is what reading a .htaccess file needs of the main
// configuration's reading: ${VAR} values, loaded modules, the file system.
type readState struct {
	fs         fileSystem
	serverRoot string
	vars       map[string]string
	env        map[string]string
	modules    map[string]bool
}

// Import is one PythonImport of the main server, which mod_python runs in
// every child process at start-up.
type Import struct {
	Module      string // "module" or "module::function"
	Interpreter string
	File        string
	Line        int
}

// Load reads the configuration Apache would read from path (httpd.conf,
// apache2.conf or a site fragment), with its Includes.
//
// When the configuration has broken lines, Load returns a non-nil Config
// holding them in Errors together with an error joining them all, so that
// Check can report everything at once; only an unreadable main file returns
// a nil Config.
func Load(path string, opts Options) (*Config, error) {
	fsys := opts.fs
	if fsys == nil {
		fsys = osFS{}
	}
	src, err := fsys.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, src, opts)
}

// Parse is Load for a configuration already in memory, name being the file
// name used in messages. Includes are still read from the file system.
func Parse(name string, src []byte, opts Options) (*Config, error) {
	if opts.ServerRoot == "" {
		opts.ServerRoot = "/etc/apache2"
	}
	if opts.fs == nil {
		opts.fs = osFS{}
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &reader{
		fs:         opts.fs,
		serverRoot: filepath.Clean(opts.ServerRoot),
		vars:       map[string]string{},
		modules:    map[string]bool{"mod_python.c": true, "python_module": true},
		defines:    []string{"MPGATE"},
		serverName: opts.ServerName,
	}
	for _, m := range builtinModules {
		r.modules[m] = true
	}
	for _, m := range opts.Modules {
		r.addModule(m)
	}
	for _, d := range opts.Defines {
		if !containsString(r.defines, d) {
			r.defines = append(r.defines, d)
		}
	}
	envFile := opts.EnvVarsFile
	if envFile == "" {
		if _, err := opts.fs.Stat(filepath.Join(r.serverRoot, "envvars")); err == nil {
			envFile = filepath.Join(r.serverRoot, "envvars")
		}
	}
	if envFile != "" {
		b, err := opts.fs.ReadFile(envFile)
		if err != nil {
			return nil, fmt.Errorf("config: envvars: %w", err)
		}
		r.env = parseEnvVars(b)
	}
	r.files = 1
	r.bytes = int64(len(src))
	var tree []*node
	r.parse(name, src, &tree, "")

	c := build(name, tree, r)
	c.defines = append([]string(nil), r.defines...)
	c.logger = logger
	c.tree = tree
	c.rs = readState{fs: opts.fs, serverRoot: r.serverRoot, vars: r.vars, env: r.env, modules: r.modules}
	c.ht.statOnly = opts.HtaccessStat
	logger.Debug("configuration read", "file", name, "files", r.files,
		"vhosts", len(c.vhosts), "sections", len(c.sections),
		"errors", len(c.Errors), "warnings", len(c.Warnings))
	if len(c.Errors) > 0 {
		errs := make([]error, len(c.Errors))
		for i, e := range c.Errors {
			errs[i] = e
		}
		return c, errors.Join(errs...)
	}
	return c, nil
}

// Optimize reports whether a PythonOptimize On was read anywhere: mod_python
// then starts every interpreter with Python's optimize flag at 2 (as
// python -OO: no assert statements, no docstrings, __debug__ false).
func (c *Config) Optimize() bool { return c.optimize }

// VirtualHosts returns the <VirtualHost> sections in file order. The slice
// is shared: do not modify it.
func (c *Config) VirtualHosts() []*VirtualHost { return c.vhosts }

// MainServer returns the main server: directives outside any <VirtualHost>.
func (c *Config) MainServer() *VirtualHost { return c.main }

// Imports returns the main server's PythonImport directives in the order
// mod_python runs them: last written first.
func (c *Config) Imports() []Import { return c.imports }

// Defines returns the names defined once the whole configuration is read,
// which is what httpd's ap_exists_config_define (and so mod_python's
// apache.exists_config_define) answers from: Options.Defines (httpd's -D),
// MPGATE, and the names of Define directives met while reading, less those
// UnDefine removed. The slice is shared: do not modify it.
func (c *Config) Defines() []string { return c.defines }

// BaseServer returns the server a connection to q's local address belongs to
// before the request's Host is looked at (conn->base_server, set by vhost.c
// ap_update_vhost_given_ip): the first <VirtualHost> listed for that address,
// or the main server when none is. q.VHost and q.Host are not used.
func (c *Config) BaseServer(q Query) *VirtualHost {
	if ch := c.sel.find(q.LocalAddr, q.LocalPort); ch != nil {
		return ch.server
	}
	return c.main
}

// NextServer returns the server Apache links after v (server_rec.next), nil
// for the last. Apache prepends each <VirtualHost> to the main server's list
// as it reads it (core.c virtualhost_section), so the main server is
// followed by the last <VirtualHost> of the file, and each <VirtualHost> by
// the one before it.
func (c *Config) NextServer(v *VirtualHost) *VirtualHost {
	i := v.index - 2 // c.vhosts[v.index-1] is v itself
	if v.index == 0 {
		i = len(c.vhosts) - 1
	}
	if i < 0 || i >= len(c.vhosts) {
		return nil
	}
	return c.vhosts[i]
}
