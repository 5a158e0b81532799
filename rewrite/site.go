// This file holds the API (Options, Site, Result) and the walk over a configuration: files,
// sections, guard groups and the state Apache keeps while reading (Define, ServerRoot).

package rewrite

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Via names the FastCGI path from Apache to the mpgate daemon.
type Via string

const (
	// ViaProxy: mod_proxy_fcgi connects to the daemon's unix socket. Each handler becomes
	// SetHandler "proxy:unix:SOCKET|fcgi://mpgate" with ProxyFCGIBackendType GENERIC, so that
	// SCRIPT_FILENAME is the plain file name (shared/reference/fastcgi-apache.md §2.1 P16).
	ViaProxy Via = "proxy"
	// ViaFcgid: mod_fcgid starts `mpgate fcgid` relays, which forward to the daemon (starting it
	// if needed). Each handler becomes SetHandler fcgid-script with Options +ExecCGI and
	// FcgidWrapper "MPGATE fcgid ..." virtual (fastcgi-apache.md §1.3, style B).
	ViaFcgid Via = "fcgid"
	// ViaCGI: mod_cgi or mod_cgid runs `mpgate cgi` once per request, which relays it to the
	// daemon. Each handler becomes SetHandler mpgate-relay, which apache-conf/mpgate-cgi.conf maps
	// to the relay with Action (fastcgi-apache.md §4 C3, §11 "CGI"); the relay's own <Location>
	// there carries what the request needs (CGIPassAuth), so the section gets nothing else.
	ViaCGI Via = "cgi"
)

// Options configures Site. OutDir, Via and, for ViaProxy, Socket or, for ViaFcgid, Mpgate and RunDir
// are required.
type Options struct {
	// OutDir receives the rewritten files, each at OutDir followed by its absolute path, so that
	// /srv/site/site.conf is written to OutDir/srv/site/site.conf. It must be empty or not exist
	// (a stale file there could match a rewritten wildcard Include). Site writes nothing else.
	OutDir string
	// Via is the FastCGI path the rewritten configuration uses.
	Via Via
	// Socket is the daemon's unix socket (ViaProxy): an absolute path of at most 107 bytes, or
	// text with ${VARIABLES} that Apache expands when it reads the rewritten file.
	Socket string
	// Mpgate is the mpgate program mod_fcgid runs (ViaFcgid), an absolute path.
	Mpgate string
	// RunDir is the daemon's run directory, passed as `mpgate fcgid --run-dir` (ViaFcgid).
	RunDir string
	// Config is the configuration the daemon reads, passed as `mpgate fcgid --config`
	// (ViaFcgid); empty means the file given to Site. It is also what MPGATE_VHOST values name.
	Config string
	// Args are further `mpgate fcgid` arguments (ViaFcgid), after --config, --run-dir,
	// --server-root and a -D for each of Defines. mod_fcgid splits its command line on spaces, so
	// no argument may contain white space, quotes or backslashes.
	Args []string
	// ServerRoot resolves relative Include paths, as Apache's -d does, until a ServerRoot
	// directive changes it; it is also passed as `mpgate fcgid --server-root`. Empty means the
	// directory of the file given to Site.
	ServerRoot string
	// Defines are the names Apache is started with (-D NAME), which <IfDefine> tests while Site
	// decides whether a missing Include is an error. MPGATE is not allowed.
	Defines []string
	// LookupEnv finds the environment variables that ${NAME} refers to when no Define sets NAME,
	// as Apache does; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// AccessFiles also rewrites the access files (.htaccess) Apache reads under the site's
	// DocumentRoots and <Directory> sections, which may hold Python* lines a stock Apache
	// rejects, without touching them: each becomes a <Directory> section of Result.AccessConf,
	// which the server configuration must Include after the site, and with an AccessFileName
	// naming no file (every AccessFileName line of the site is guarded). See accessConf.
	AccessFiles bool
}

// Result describes what Site wrote.
type Result struct {
	// Main is the rewritten copy of the file given to Site: the file Apache should read.
	Main string
	// Files lists every file read and its rewritten copy, in the order Apache first reads them.
	Files []File
	// Changes lists every change, ordered by file (as in Files), then line.
	Changes []Change
	// AccessConf is the file holding the rewritten access files (Options.AccessFiles), or "".
	AccessConf string
	// AccessFiles lists the access files rewritten into AccessConf.
	AccessFiles []string
	// Env lists, sorted, the environment variables the configuration refers to as ${NAME}
	// without a Define for NAME. Processes that read the original configuration (the daemon,
	// including one started by a mod_fcgid relay, which gets only FcgidInitialEnv) need them.
	Env []string
}

// File is one configuration file and its rewritten copy.
type File struct {
	Src string // absolute path of the original
	Out string // absolute path of the copy under Options.OutDir
}

// ChangeKind says what Site did to a line.
type ChangeKind int

const (
	// Guarded: the line is kept verbatim inside <IfDefine MPGATE>.
	Guarded ChangeKind = iota + 1
	// BlockGuarded: an <IfModule !mod_python.c> block is kept verbatim inside <IfDefine MPGATE>.
	BlockGuarded
	// HandlerAdded: the FastCGI handler replacing a mod_python handler line was added.
	HandlerAdded
	// VhostTagged: SetEnv MPGATE_VHOST was added to a <VirtualHost>.
	VhostTagged
	// IncludeRewritten: an Include or IncludeOptional now names the rewritten copies.
	IncludeRewritten
	// SnippetIncluded: the server-level lines including the apache-conf snippet were added
	// (Migrate).
	SnippetIncluded
)

func (k ChangeKind) String() string {
	switch k {
	case Guarded:
		return "guarded"
	case BlockGuarded:
		return "block guarded"
	case HandlerAdded:
		return "handler added"
	case VhostTagged:
		return "vhost tagged"
	case IncludeRewritten:
		return "include rewritten"
	case SnippetIncluded:
		return "snippet included"
	}
	return fmt.Sprintf("ChangeKind(%d)", int(k))
}

// Change is one change Site made, at a position in an original file.
type Change struct {
	File  string // absolute path of the original
	Line  int    // first physical line of the directive or section, 1-based
	Kind  ChangeKind
	Text  string   // the original logical line, without surrounding white space
	Added []string // the lines added for it, without indentation (the new line for IncludeRewritten)
}

// String formats the change as "FILE:LINE: KIND: TEXT", followed by " => " and the added lines
// separated by " | " when there are any.
func (c Change) String() string {
	s := fmt.Sprintf("%s:%d: %s: %s", c.File, c.Line, c.Kind, c.Text)
	if len(c.Added) > 0 {
		s += " => " + strings.Join(c.Added, " | ")
	}
	return s
}

// Site rewrites the configuration in the file src and every file it includes into opts.OutDir
// (see the package documentation). Errors in the configuration are *Error values naming the file
// and line; nothing is written unless the whole configuration could be rewritten.
func Site(src string, opts Options) (*Result, error) {
	rw, err := newRewriter(src, opts, nil)
	if err != nil {
		return nil, err
	}
	if err := rw.walkMain(); err != nil {
		return nil, err
	}
	if opts.AccessFiles {
		if err := rw.accessConf(); err != nil {
			return nil, err
		}
	}
	if err := rw.write(); err != nil {
		return nil, fmt.Errorf("rewrite: %w", err)
	}
	return rw.result(), nil
}

// truth is what Apache knows, while reading, about whether a section's contents apply.
type truth int

const (
	truthFalse truth = iota // skipped (<IfDefine> of an undefined name)
	truthMaybe              // decided by something Site does not know (loaded modules, versions)
	truthTrue
)

// blockKind is what a section is, for where the FastCGI handler's directives may go.
type blockKind int

const (
	kindTop   blockKind = iota // the main server
	kindVhost                  // <VirtualHost>
	kindDir                    // <Directory>, <DirectoryMatch>
	kindLoc                    // <Location>, <LocationMatch>, <Proxy>, <ProxyMatch>
	kindFiles                  // <Files>, <FilesMatch>
	kindIf                     // <If>, <ElseIf>, <Else>
	kindCond                   // <IfDefine>, <IfModule>, <IfVersion>... and unknown sections
)

func sectionKind(name string) blockKind {
	switch strings.ToLower(name) {
	case "virtualhost":
		return kindVhost
	case "directory", "directorymatch":
		return kindDir
	case "location", "locationmatch", "proxy", "proxymatch":
		return kindLoc
	case "files", "filesmatch":
		return kindFiles
	case "if", "elseif", "else":
		return kindIf
	}
	return kindCond
}

// block is an open section while a file is walked. Blocks of the file that includes another are
// shared with it, since Apache reads an included file inside the including file's sections.
type block struct {
	kind      blockKind
	name      string // as written: "Directory"
	open      string // the opening logical line, trimmed: `<Directory "/srv/www">`
	indent    string // of the opening line
	eol       string
	file      string
	line      int
	truth     truth
	pyModule  bool // <IfModule mod_python.c> or <IfModule python_module>: true for mpgate only
	mpgateOff bool // <IfDefine !MPGATE>: false for mpgate only

	after []pending // FastCGI handlers to add after its closing line

	dir   *dirSection // a <Directory>: its record for finding access files
	unit  *unit       // Migrate: the section it is, when it is one
	vunit *unit       // Migrate: a <VirtualHost>'s lines outside sections
}

// pending is a FastCGI handler to add after an <IfModule mod_python.c> block, inside copies of the
// sections between that block and the handler line.
type pending struct {
	chain   []*block
	add     *addition
	landing *block // the block the copies (or, without any, the handler) land in
}

type rewriter struct {
	opts       Options // as given, with defaults applied
	src        string  // absolute path of the main file
	outDir     string  // absolute, cleaned
	serverRoot string  // current ServerRoot for relative paths
	handler    string  // the SetHandler line of Via
	wrapper    string  // the FcgidWrapper line (ViaFcgid)

	vars    map[string]string // variables set by Define, as Apache reads them
	defined map[string]bool   // -D names, for <IfDefine>

	refs      map[string]bool // ${NAME} references, for Result.Env
	defineAny map[string]bool // names of every Define in any branch

	root    *block            // the main server, shared by every file included there
	active  []string          // files being rewritten, outermost first, for include cycles
	outputs map[string]string // rewritten text by source path
	order   []string          // source paths in the order Apache first reads them
	changes []Change

	scan        *confScan  // what the walk learnt for finding access files (.htaccess)
	access      string     // the text of AccessConf (Options.AccessFiles)
	accessFiles []string   // the access files in it
	mig         *migration // set by Migrate: edit in place, only the chosen sections
}

func newRewriter(src string, opts Options, mig *migration) (*rewriter, error) {
	abs, err := filepath.Abs(src)
	if err != nil {
		return nil, fmt.Errorf("rewrite: %w", err)
	}
	rw := &rewriter{
		opts:      opts,
		src:       abs,
		vars:      make(map[string]string),
		defined:   make(map[string]bool),
		refs:      make(map[string]bool),
		defineAny: make(map[string]bool),
		root:      &block{kind: kindTop, truth: truthTrue},
		outputs:   make(map[string]string),
		scan:      newConfScan(),
		mig:       mig,
	}
	if rw.opts.LookupEnv == nil {
		rw.opts.LookupEnv = os.LookupEnv
	}
	if rw.opts.Config == "" {
		rw.opts.Config = abs
	}
	if rw.opts.ServerRoot == "" {
		rw.opts.ServerRoot = filepath.Dir(abs)
	}
	if rw.opts.ServerRoot, err = filepath.Abs(rw.opts.ServerRoot); err != nil {
		return nil, fmt.Errorf("rewrite: ServerRoot: %w", err)
	}
	rw.serverRoot = rw.opts.ServerRoot
	for _, d := range opts.Defines {
		if d == "MPGATE" {
			return nil, errors.New("rewrite: Defines: MPGATE is for mpgate only; Apache must never define it")
		}
		rw.defined[d] = true
	}
	if err := rw.setOutDir(opts.OutDir); err != nil {
		return nil, err
	}
	if err := rw.setVia(); err != nil {
		return nil, err
	}
	return rw, nil
}

// setOutDir checks and sets OutDir (Site only; Migrate edits in place and passes "" here).
func (rw *rewriter) setOutDir(dir string) error {
	if dir == "" && rw.mig != nil {
		return nil
	}
	if dir == "" {
		return errors.New("rewrite: no OutDir")
	}
	var err error
	if rw.outDir, err = filepath.Abs(dir); err != nil {
		return fmt.Errorf("rewrite: OutDir: %w", err)
	}
	if rw.outDir == "/" || strings.ContainsAny(rw.outDir, "*?[\\\"") {
		// Rewritten wildcard Includes start with OutDir, so it must hold no wildcard itself.
		return fmt.Errorf("rewrite: OutDir %q: must not be / or contain any of * ? [ \\ \"", rw.outDir)
	}
	if err := checkEmpty(rw.outDir); err != nil {
		return fmt.Errorf("rewrite: OutDir: %w", err)
	}
	return nil
}

// setVia sets the handler lines of opts.Via.
func (rw *rewriter) setVia() error {
	opts := rw.opts
	switch opts.Via {
	case ViaProxy:
		if err := checkSocket(opts.Socket); err != nil {
			return fmt.Errorf("rewrite: Socket: %w", err)
		}
		rw.handler = `SetHandler "proxy:unix:` + opts.Socket + `|fcgi://mpgate"`
	case ViaFcgid:
		cmd, err := rw.wrapperCommand()
		if err != nil {
			return fmt.Errorf("rewrite: FcgidWrapper: %w", err)
		}
		rw.handler = "SetHandler fcgid-script"
		rw.wrapper = `FcgidWrapper "` + cmd + `" virtual`
	case ViaCGI:
		rw.handler = "SetHandler " + cgiHandler
	default:
		return fmt.Errorf("rewrite: Via %q: want %q, %q or %q", opts.Via, ViaProxy, ViaFcgid, ViaCGI)
	}
	return nil
}

// cgiHandler is the handler name apache-conf/mpgate-cgi.conf maps to `mpgate cgi` with Action.
const cgiHandler = "mpgate-relay"

// checkEmpty returns an error unless dir is an empty directory or does not exist.
func checkEmpty(dir string) error {
	f, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if len(names) > 0 {
		return fmt.Errorf("%s is not empty", dir)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// maxSocketPath is the longest unix socket path: sun_path holds 108 bytes with the final NUL.
const maxSocketPath = 107

func checkSocket(sock string) error {
	switch {
	case sock == "":
		return errors.New("empty")
	case strings.ContainsAny(sock, "\"|\n"):
		return fmt.Errorf("%q: must not contain a quote, | or a newline", sock)
	case strings.Contains(sock, "${"):
		return nil // Apache expands it; the length is checked by mod_proxy
	case !filepath.IsAbs(sock):
		return fmt.Errorf("%q: not an absolute path", sock)
	case len(sock) > maxSocketPath:
		return fmt.Errorf("%q: %d bytes; unix socket paths hold at most %d", sock, len(sock), maxSocketPath)
	}
	return nil
}

// mod_fcgid's limits for FcgidWrapper (modules/fcgid/fcgid_global.h, fcgid_conf.c
// set_wrapper_config): FCGID_PATH_MAX and FCGID_CMDLINE_MAX count the final NUL.
const (
	fcgidPathMax    = 256
	fcgidCmdlineMax = fcgidPathMax + 256
)

// wrapperCommand returns the command line of FcgidWrapper: mod_fcgid splits it on white space
// (apr_tokenize_to_argv) and runs it with cwd = its directory (fastcgi-apache.md §1.1).
func (rw *rewriter) wrapperCommand() (string, error) {
	o := rw.opts
	if o.Mpgate == "" || o.RunDir == "" {
		return "", errors.New("Mpgate and RunDir are required with ViaFcgid")
	}
	if !filepath.IsAbs(o.Mpgate) && !strings.Contains(o.Mpgate, "${") {
		return "", fmt.Errorf("Mpgate %q: not an absolute path", o.Mpgate)
	}
	args := []string{o.Mpgate, "fcgid", "--config", o.Config, "--run-dir", o.RunDir, "--server-root", o.ServerRoot}
	for _, d := range o.Defines {
		args = append(args, "-D", d)
	}
	args = append(args, o.Args...)
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\r\n\f\v\"'\\") {
			return "", fmt.Errorf("argument %q: mod_fcgid splits the command line on white space and reads quotes and backslashes; use paths without them", a)
		}
	}
	cmd := strings.Join(args, " ")
	if !strings.Contains(cmd, "${") {
		if len(o.Mpgate) >= fcgidPathMax {
			return "", fmt.Errorf("Mpgate %q: %d bytes; mod_fcgid accepts at most %d", o.Mpgate, len(o.Mpgate), fcgidPathMax-1)
		}
		if len(cmd) >= fcgidCmdlineMax {
			return "", fmt.Errorf("command line %q: %d bytes; mod_fcgid accepts at most %d", cmd, len(cmd), fcgidCmdlineMax-1)
		}
	}
	return cmd, nil
}

// outPath returns where the copy of the source path p goes.
func (rw *rewriter) outPath(p string) string { return filepath.Join(rw.outDir, p) }

// rewriteFile rewrites the file path, read inside the sections outer (nil for the main file).
// A file included twice is rewritten twice and must come out the same both times.
func (rw *rewriter) rewriteFile(path string, outer []*block) error {
	if slices.Contains(rw.active, path) {
		return fmt.Errorf("%s includes itself (through %s)", path, strings.Join(rw.active, ", "))
	}
	if rw.outDir != "" && (path == rw.outDir || strings.HasPrefix(path, rw.outDir+string(filepath.Separator))) {
		return fmt.Errorf("%s is inside OutDir %s", path, rw.outDir)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	_, seen := rw.outputs[path]
	if !seen && !slices.Contains(rw.order, path) {
		rw.order = append(rw.order, path)
	}
	rw.active = append(rw.active, path)
	text, err := rw.rewriteText(path, string(data), outer, !seen)
	rw.active = rw.active[:len(rw.active)-1]
	if err != nil {
		return err
	}
	if prev, ok := rw.outputs[path]; ok {
		if prev != text {
			return fmt.Errorf("%s is included in places that need different rewrites; include it once", path)
		}
		return nil
	}
	rw.outputs[path] = text
	return nil
}

// fileWalk is the state of one pass over one file.
type fileWalk struct {
	rw      *rewriter
	file    string
	lines   []line
	closeOf map[int]int // index of each opening line -> index of its closing line
	record  bool        // record changes (false when the file was rewritten before)
	out     strings.Builder
	stack   []*block // outer blocks followed by this file's open ones
	group   []guardedLine
	// sectionDone holds the blocks this file added the once-per-section FastCGI directives to.
	// It is per file, so that a file comes out the same wherever it is included.
	sectionDone map[*block]bool
	// topPos and topEdits are the output offset and the count of edits at the start of the
	// current top-level statement of the main file (Migrate), for where the server-level lines go.
	topPos, topEdits int
}

// guardedLine is a line waiting, with the lines around it, to be put inside <IfDefine MPGATE>.
type guardedLine struct {
	i   int
	add *addition // the FastCGI handler to add after the group; nil if none or added elsewhere
}

func (rw *rewriter) rewriteText(file, data string, outer []*block, record bool) (string, error) {
	w := &fileWalk{rw: rw, file: file, lines: splitLines(data), record: record, sectionDone: make(map[*block]bool)}
	w.stack = append(w.stack, outer...)
	var err error
	if rw.mig != nil && !rw.mig.pass2 {
		rw.mig.orig[file] = []byte(data)
	}
	if w.closeOf, err = structure(file, w.lines); err != nil {
		return "", err
	}
	rw.scanRefs(w.lines)
	if err := w.migStart(); err != nil {
		return "", err
	}
	for i := 0; i < len(w.lines); i++ {
		w.migBeforeStep()
		if i, err = w.step(i); err != nil {
			return "", err
		}
		w.migAfterStep()
	}
	w.flushGroup()
	return w.out.String(), nil
}

// step handles the logical line i and returns the index of the last line it consumed.
func (w *fileWalk) step(i int) (int, error) {
	ln := w.lines[i]
	if ln.isComment() {
		w.flushGroup()
		w.raw(ln.raw)
		return i, nil
	}
	if sec, ok, _ := parseSection(ln); ok {
		w.flushGroup()
		if sec.close {
			b := w.stack[len(w.stack)-1]
			w.stack = w.stack[:len(w.stack)-1]
			w.raw(ln.raw)
			w.flushAfter(b)
			return i, nil
		}
		return w.open(i, sec)
	}
	name, args := directive(ln)
	w.noteScan(name, args)
	guard, h := guardable(name, args)
	if guard && w.rw.mig != nil {
		var err error
		if guard, err = w.migLine(ln, name, h); err != nil {
			return i, err
		}
	} else if w.rw.opts.AccessFiles && strings.EqualFold(name, "AccessFileName") {
		// Apache reads the rewritten access files from AccessConf; mpgate reads the originals.
		guard, h = true, nil
	}
	if guard {
		g := guardedLine{i: i}
		if h != nil {
			add, err := w.place(ln, h)
			if err != nil {
				return i, err
			}
			g.add = add
		}
		w.group = append(w.group, g)
		w.change(ln, Guarded, nil)
		w.edited(name)
		return i, nil
	}
	w.flushGroup()
	switch {
	case strings.EqualFold(name, "Include") || strings.EqualFold(name, "IncludeOptional"):
		if w.rw.mig != nil {
			return i, w.migInclude(ln, name, args)
		}
		return i, w.include(ln, name, args)
	case strings.EqualFold(name, "Define"):
		w.define(args)
	case strings.EqualFold(name, "UnDefine"):
		if ws := words(w.rw.expand(args)); len(ws) > 0 && w.truth() != truthFalse {
			delete(w.rw.vars, ws[0].val)
			delete(w.rw.defined, ws[0].val)
		}
	case strings.EqualFold(name, "ServerRoot"):
		if ws := words(w.rw.expand(args)); len(ws) > 0 && w.truth() != truthFalse {
			if p, err := filepath.Abs(ws[0].val); err == nil {
				w.rw.serverRoot = p
			}
		}
	}
	w.raw(ln.raw)
	return i, nil
}

// open handles the opening line i of a section and returns the index of the last line it consumed.
func (w *fileWalk) open(i int, sec sectionLine) (int, error) {
	ln := w.lines[i]
	end := w.closeOf[i]
	neg, arg := condArg(sec.args)
	switch {
	case strings.EqualFold(sec.name, "IfDefine") && !neg && arg == "MPGATE":
		// Already for mpgate only (a rewritten file): left alone, Includes in it too.
		if w.rw.mig != nil {
			w.migGuarded(i, end)
		}
		for j := i; j <= end; j++ {
			w.raw(w.lines[j].raw)
		}
		return end, nil
	case strings.EqualFold(sec.name, "IfModule") && neg && isPyModule(arg) && w.migGuardHere():
		// True for a stock Apache, false for mpgate and mod_python's Apache: hide it from Apache.
		ind, eol := ln.indent(), eolOf(ln)
		w.gen(ind + "<IfDefine MPGATE>" + eol)
		for j := i; j <= end; j++ {
			w.raw(w.lines[j].raw)
		}
		w.gen(ind + "</IfDefine>" + eol)
		w.change(ln, BlockGuarded, nil)
		w.edited("")
		return end, nil
	}
	b := &block{
		kind:   sectionKind(sec.name),
		name:   sec.name,
		open:   ln.trimmed(),
		indent: ln.indent(),
		eol:    eolOf(ln),
		file:   w.file,
		line:   ln.first,
		truth:  truthTrue,
	}
	switch strings.ToLower(sec.name) {
	case "ifdefine":
		if arg == "MPGATE" { // neg: <IfDefine !MPGATE>
			b.mpgateOff = true
		} else if w.rw.isDefined(w.rw.expand(arg)) == neg {
			b.truth = truthFalse
		}
	case "ifmodule":
		if isPyModule(arg) && !neg {
			// A stock Apache has no mod_python; Site assumes it is gone.
			b.pyModule, b.truth = true, truthFalse
		} else {
			b.truth = truthMaybe
		}
	default:
		if b.kind == kindCond {
			b.truth = truthMaybe
		}
	}
	if b.kind == kindDir {
		b.dir = w.rw.dirSectionOf(sec, w.file, ln.first)
	}
	if w.rw.mig != nil {
		w.migOpen(b, sec)
	}
	w.stack = append(w.stack, b)
	w.raw(ln.raw)
	if w.rw.mig != nil {
		return i, w.migOpened(i, end, b)
	}
	if b.kind == kindVhost && !w.hasVhostTag(i+1, end) {
		if strings.Contains(w.file, `"`) {
			return i, &Error{File: w.file, Line: ln.first, Directive: "<" + sec.name + ">", Err: errors.New("a file name with a quote cannot be named in SetEnv MPGATE_VHOST")}
		}
		tag := fmt.Sprintf(`SetEnv MPGATE_VHOST "%s:%d"`, w.file, ln.first)
		w.gen(w.bodyIndent(i, end) + tag + b.eol)
		w.change(ln, VhostTagged, []string{tag})
	}
	return i, nil
}

// hasVhostTag reports whether lines from..to-1 already set MPGATE_VHOST (a rewritten file).
func (w *fileWalk) hasVhostTag(from, to int) bool {
	for j := from; j < to; j++ {
		ln := w.lines[j]
		if ln.isComment() {
			continue
		}
		if sec, ok, _ := parseSection(ln); ok {
			if neg, arg := condArg(sec.args); !sec.close && strings.EqualFold(sec.name, "IfDefine") && !neg && arg == "MPGATE" {
				j = w.closeOf[j]
			}
			continue
		}
		if name, args := directive(ln); strings.EqualFold(name, "SetEnv") {
			if ws := words(args); len(ws) > 0 && ws[0].val == "MPGATE_VHOST" {
				return true
			}
		}
	}
	return false
}

// bodyIndent returns the indentation for a line added first inside the section opening at line i
// and closing at end: that of the first line inside it, or one level more than the opening line.
func (w *fileWalk) bodyIndent(i, end int) string {
	open := w.lines[i].indent()
	for j := i + 1; j < end; j++ {
		if t := w.lines[j].trimmed(); t != "" {
			if ind := w.lines[j].indent(); len(ind) > len(open) {
				return ind
			}
			break
		}
	}
	return open + indentUnit(open)
}

// indentUnit returns one level of indentation in the style of ind.
func indentUnit(ind string) string {
	if strings.Contains(ind, "\t") {
		return "\t"
	}
	return "    "
}

func eolOf(l line) string {
	if l.eol == "" {
		return "\n"
	}
	return l.eol
}

// condArg returns the argument of <IfDefine>/<IfModule> and whether it is negated with "!".
func condArg(args string) (neg bool, arg string) {
	w, _, _ := nextWord(args)
	arg = w.val
	if strings.HasPrefix(arg, "!") {
		return true, arg[1:]
	}
	return false, arg
}

// isPyModule reports whether <IfModule NAME> tests for mod_python: the two spellings Apache
// matches when mod_python is loaded (fastcgi-apache.md §5), which mpgate reads as true.
func isPyModule(name string) bool { return name == "mod_python.c" || name == "python_module" }

// guardable reports whether a directive goes inside <IfDefine MPGATE> and, for a mod_python
// handler line, returns it.
func guardable(name, args string) (bool, *handlerLine) {
	switch {
	case len(name) >= 6 && strings.EqualFold(name[:6], "Python"):
		return true, phaseLine(name)
	case strings.EqualFold(name, "SetHandler"):
		if ws := words(args); len(ws) > 0 && isModPython(ws[0].val) {
			return true, &handlerLine{set: true}
		}
	case strings.EqualFold(name, "AddHandler"):
		if ws := words(args); len(ws) > 0 && isModPython(ws[0].val) {
			h := &handlerLine{}
			for _, e := range ws[1:] {
				// mod_mime strips one leading dot and compares extensions without case.
				ext := strings.ToLower(strings.TrimPrefix(e.val, "."))
				if ext != "" && !slices.Contains(h.exts, ext) {
					h.exts = append(h.exts, ext)
				}
			}
			if len(h.exts) == 0 {
				return true, nil
			}
			return true, h
		}
	case strings.EqualFold(name, "LoadModule"):
		if ws := words(args); len(ws) > 0 && ws[0].val == "python_module" {
			return true, nil
		}
	}
	return false, nil
}

// isModPython reports whether a handler name is mod_python's. Apache lowercases handler names
// (core_override_type, mod_mime), so case does not matter.
func isModPython(h string) bool {
	return strings.EqualFold(h, "mod_python") || strings.EqualFold(h, "python-program")
}

// truth returns what Apache knows about whether the current position is read.
func (w *fileWalk) truth() truth {
	t := truthTrue
	for _, b := range w.stack {
		t = min(t, b.truth)
	}
	return t
}

func (w *fileWalk) define(args string) {
	ws := words(w.rw.expand(args))
	if len(ws) == 0 {
		return
	}
	w.rw.defineAny[ws[0].val] = true
	if w.truth() == truthFalse {
		return
	}
	val := ""
	if len(ws) > 1 {
		val = ws[1].val
	}
	w.rw.vars[ws[0].val] = val
}

func (rw *rewriter) isDefined(name string) bool {
	_, ok := rw.vars[name]
	return ok || rw.defined[name]
}

// expand replaces ${NAME} as Apache does when it reads a line (ap_resolve_env): with the value of
// a Define, else of the environment variable; an unknown name stays as written.
func (rw *rewriter) expand(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			break
		}
		name := s[i+2 : i+j]
		b.WriteString(s[:i])
		if v, ok := rw.vars[name]; ok {
			b.WriteString(v)
		} else if v, ok := rw.opts.LookupEnv(name); ok {
			b.WriteString(v)
		} else {
			b.WriteString(s[i : i+j+1])
		}
		s = s[i+j+1:]
	}
	b.WriteString(s)
	return b.String()
}

// scanRefs records the ${NAME} references and the Define names of lines, for Result.Env. Every
// line counts, guarded ones too: mpgate reads them.
func (rw *rewriter) scanRefs(lines []line) {
	for _, l := range lines {
		if l.isComment() {
			continue
		}
		s := l.text
		for {
			i := strings.Index(s, "${")
			if i < 0 {
				break
			}
			j := strings.IndexByte(s[i:], '}')
			if j < 0 {
				break
			}
			if name := s[i+2 : i+j]; name != "" {
				rw.refs[name] = true
			}
			s = s[i+j+1:]
		}
		if name, args := directive(l); strings.EqualFold(name, "Define") {
			if w, _, ok := nextWord(args); ok {
				rw.defineAny[w.val] = true
			}
		}
	}
}

// includePath returns the path an Include or IncludeOptional line names (${VAR} expanded,
// relative to ServerRoot, cleaned), whether it was quoted, and a function turning an error into
// one at the line.
func (w *fileWalk) includePath(ln line, name, args string) (p string, quoted bool, fail func(error) error, err error) {
	fail = func(err error) error {
		return &Error{File: w.file, Line: ln.first, Directive: name, Err: err}
	}
	ws := words(args)
	if len(ws) != 1 {
		return "", false, fail, fail(errors.New("takes one argument"))
	}
	p = w.rw.expand(ws[0].val)
	if !filepath.IsAbs(p) {
		p = filepath.Join(w.rw.serverRoot, p)
	}
	return filepath.Clean(p), ws[0].quoted, fail, nil
}

// include rewrites an Include or IncludeOptional line to name the rewritten copies, rewriting
// the files it names first.
func (w *fileWalk) include(ln line, name, args string) error {
	p, quoted, fail, err := w.includePath(ln, name, args)
	if err != nil {
		return err
	}
	// A missing file is an error only where Apache surely reads the line; elsewhere (an
	// <IfDefine> of another setup) the line still names the copy, which will be missing too.
	strict := !strings.EqualFold(name, "IncludeOptional") && w.truth() == truthTrue
	files, err := configFiles(p, strict)
	if err != nil {
		return fail(err)
	}
	for _, f := range files {
		if err := w.rw.rewriteFile(f, w.stack); err != nil {
			return fail(err)
		}
	}
	newLine := name + " " + quoteArg(w.rw.outPath(p), quoted)
	w.gen(ln.indent() + newLine + eolOf(ln))
	w.change(ln, IncludeRewritten, []string{newLine})
	return nil
}

// quoteArg writes s as one configuration argument, in double quotes if it was quoted or needs them.
func quoteArg(s string, quoted bool) string {
	if !quoted && !strings.ContainsAny(s, " \t\"'\\") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}

// raw writes bytes of the original.
func (w *fileWalk) raw(s string) { w.out.WriteString(s) }

// gen writes an added line, first ending the original's last line if it had no line ending.
func (w *fileWalk) gen(s string) {
	if n := w.out.Len(); n > 0 && !strings.HasSuffix(w.out.String(), "\n") {
		w.out.WriteString("\n")
	}
	w.out.WriteString(s)
}

func (w *fileWalk) change(ln line, kind ChangeKind, added []string) {
	if w.record {
		w.rw.changes = append(w.rw.changes, Change{File: w.file, Line: ln.first, Kind: kind, Text: ln.trimmed(), Added: added})
	}
}

// flushGroup writes the waiting guarded lines inside <IfDefine MPGATE>, then the FastCGI handlers
// that replace the handler lines among them.
func (w *fileWalk) flushGroup() {
	if len(w.group) == 0 {
		return
	}
	first := w.lines[w.group[0].i]
	ind, eol := first.indent(), eolOf(first)
	w.gen(ind + "<IfDefine MPGATE>" + eol)
	for _, g := range w.group {
		w.raw(w.lines[g.i].raw)
	}
	w.gen(ind + "</IfDefine>" + eol)
	landing := w.rw.root
	if len(w.stack) > 0 {
		landing = w.stack[len(w.stack)-1]
	}
	for _, g := range w.group {
		if g.add != nil {
			w.emit(ind, eol, nil, []*addition{g.add}, landing)
		}
	}
	w.group = nil
}

// flushAfter writes the FastCGI handlers waiting for the end of the block b, grouping those that
// need the same copies of sections.
func (w *fileWalk) flushAfter(b *block) {
	for len(b.after) > 0 {
		p := b.after[0]
		adds := []*addition{p.add}
		n := 1
		for ; n < len(b.after) && slices.Equal(b.after[n].chain, p.chain); n++ {
			adds = append(adds, b.after[n].add)
		}
		b.after = b.after[n:]
		w.emit(b.indent, b.eol, p.chain, adds, p.landing)
	}
}

// structure matches every section's opening line with its closing line.
func structure(file string, lines []line) (map[int]int, error) {
	closeOf := make(map[int]int)
	type open struct {
		i    int
		name string
	}
	var stack []open
	for i, ln := range lines {
		if ln.isComment() {
			continue
		}
		sec, ok, msg := parseSection(ln)
		if !ok {
			continue
		}
		if msg != "" {
			return nil, &Error{File: file, Line: ln.first, Directive: "<" + sec.name + ">", Err: errors.New(msg)}
		}
		if !sec.close {
			stack = append(stack, open{i, sec.name})
			continue
		}
		if len(stack) == 0 {
			return nil, &Error{File: file, Line: ln.first, Directive: "</" + sec.name + ">",
				Err: fmt.Errorf("</%s> without matching <%s> section", sec.name, sec.name)}
		}
		top := stack[len(stack)-1]
		if !strings.EqualFold(top.name, sec.name) {
			return nil, &Error{File: file, Line: ln.first, Directive: "</" + sec.name + ">",
				Err: fmt.Errorf("expected </%s> but saw </%s>", top.name, sec.name)}
		}
		closeOf[top.i] = i
		stack = stack[:len(stack)-1]
	}
	if len(stack) > 0 {
		top := stack[len(stack)-1]
		return nil, &Error{File: file, Line: lines[top.i].first, Directive: "<" + top.name + ">",
			Err: fmt.Errorf("<%s> section not closed before the end of the file", top.name)}
	}
	return closeOf, nil
}

// result assembles the Result.
func (rw *rewriter) result() *Result {
	res := &Result{Main: rw.outPath(rw.src)}
	index := make(map[string]int)
	for i, p := range rw.order {
		index[p] = i
		res.Files = append(res.Files, File{Src: p, Out: rw.outPath(p)})
	}
	res.Changes = rw.changes
	if rw.access != "" {
		res.AccessConf = filepath.Join(rw.outDir, accessConfName)
		res.AccessFiles = rw.accessFiles
	}
	slices.SortStableFunc(res.Changes, func(a, b Change) int {
		if d := index[a.File] - index[b.File]; d != 0 {
			return d
		}
		return a.Line - b.Line
	})
	for name := range rw.refs {
		if !rw.defineAny[name] {
			res.Env = append(res.Env, name)
		}
	}
	slices.Sort(res.Env)
	return res
}

// write creates OutDir and the rewritten files in it through an os.Root, so that nothing,
// symbolic links included, leads outside it.
func (rw *rewriter) write() error {
	if err := os.MkdirAll(rw.outDir, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(rw.outDir)
	if err != nil {
		return err
	}
	defer root.Close()
	if rw.access != "" {
		f, err := root.OpenFile(accessConfName, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		_, err = f.WriteString(rw.access)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	for _, src := range rw.order {
		rel := strings.TrimPrefix(src, string(filepath.Separator))
		if err := mkdirAll(root, filepath.Dir(rel)); err != nil {
			return err
		}
		f, err := root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		_, err = f.WriteString(rw.outputs[src])
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// mkdirAll creates the directory rel and its parents inside root (os.Root.MkdirAll needs Go 1.25).
func mkdirAll(root *os.Root, rel string) error {
	if rel == "." || rel == "" {
		return nil
	}
	if err := mkdirAll(root, filepath.Dir(rel)); err != nil {
		return err
	}
	err := root.Mkdir(rel, 0o755)
	if err != nil && errors.Is(err, fs.ErrExist) {
		if fi, serr := root.Stat(rel); serr == nil && fi.IsDir() {
			return nil
		}
	}
	return err
}
