// This file is Migrate: the site's real configuration edited in place, section by section, so that
// Apache hands the chosen sections to mpgate while mod_python keeps serving the others. It reuses
// Site's walk (site.go, handler.go) with two passes: the first finds every section using
// mod_python (a <Directory>, <Location>, ... or an access file holding Python* or mod_python
// handler lines) and what each inherits; the second guards the chosen sections' lines and adds
// their FastCGI handlers. The result is a Plan: the new text of every file, shown as a unified
// diff, and written by Apply (apply.go).

package rewrite

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// MigrateOptions configures Migrate.
type MigrateOptions struct {
	// Config is the server's main configuration file (Debian: /etc/apache2/apache2.conf). It is
	// also what the daemon reads (mpgate serve --config), so MPGATE_VHOST values name its files.
	Config string
	// ServerRoot resolves relative paths, as Apache's -d (default: Config's directory).
	ServerRoot string
	// Via, Socket (ViaProxy), Mpgate and RunDir (ViaFcgid; RunDir is the daemon's run directory
	// for every Via) and Args are as in Options.
	Via    Via
	Socket string
	Mpgate string
	RunDir string
	Args   []string
	// Defines are the names Apache is started with (-D NAME).
	Defines []string
	// AuthzPort is the TCP port of the daemon's --authz-listen (ViaProxy), which
	// mod_authnz_fcgi sends the sections' PythonAuthenHandler to; 0 writes no
	// Define MPGATE_AUTHZ_PORT, and a section that needs it then fails apachectl -t
	// with an Error saying so.
	AuthzPort int
	// Sections chooses what to migrate: each is the path of a <Directory> (a directory), of a
	// <Location> (a URL path) or of a directory holding an access file, and chooses the sections
	// at that path and below it; a regular expression section is chosen by its argument as
	// written. Empty means every section.
	Sections []string
	// DisableModPython also stops loading mod_python: a LoadModule python_module line read
	// through a link in a mods-enabled directory is disabled by removing the link (a2dismod
	// python), any other is guarded. It needs every section served by mpgate after the change.
	DisableModPython bool
	// SnippetDir is where apache-conf's snippets are installed (mpgate-proxy.conf, ...); the
	// server-level Include names the one for Via there.
	SnippetDir string
	// SnippetText is the snippet for Via: when the plan includes it and SnippetDir lacks it, the
	// plan creates it there. nil: a missing snippet is an error.
	SnippetText []byte
	// LookupEnv is as in Options (Apache's environment: Debian's envvars).
	LookupEnv func(string) (string, bool)
}

// SectionState says where a section stands.
type SectionState int

const (
	// Left: mod_python serves it, and goes on serving it after the plan.
	Left SectionState = iota + 1
	// Chosen: the plan moves it to mpgate.
	Chosen
	// Migrated: mpgate serves it already (its Python lines are all inside <IfDefine MPGATE>).
	Migrated
)

func (s SectionState) String() string {
	switch s {
	case Left:
		return "mod_python"
	case Chosen:
		return "to migrate"
	case Migrated:
		return "migrated"
	}
	return fmt.Sprintf("SectionState(%d)", int(s))
}

// Section is a part of the configuration using mod_python.
type Section struct {
	Label string // `<Directory "/srv/www/app">`, "/srv/www/app/.htaccess", "server level", ...
	File  string // where it starts (as Apache reads it)
	Line  int    // 0 for an access file
	Path  string // what --section matches: a directory, a URL path, or the argument as written
	State SectionState
}

// Plan is what Migrate would change.
type Plan struct {
	Via Via
	// Sections lists every section using mod_python, in the order Apache reads them, access
	// files last.
	Sections []Section
	// Files holds the new text of every file that changes, in the order Apache reads them.
	Files []FileEdit
	// RemoveLinks are the links to remove (DisableModPython in a Debian layout).
	RemoveLinks []Link
	// Changes lists the changes, as Site's Result.Changes.
	Changes []Change
	// Full is true when, after the plan, mod_python serves nothing: it can be disabled.
	Full bool
	// ModPython lists the LoadModule python_module lines still read after the plan, as FILE:LINE.
	ModPython []string
	// Snippet is the apache-conf snippet the server-level lines Include.
	Snippet string
	// Includes are the configuration's Include patterns, absolute: Apply refuses a backup
	// name that one of them would make Apache read.
	Includes []string
}

// FileEdit is one file's change.
type FileEdit struct {
	Path    string // the file written: the real path, symbolic links resolved
	Read    string // the path Apache reads it by
	Old     []byte
	New     []byte
	Created bool // the plan creates it (Old is nil)
}

// Link is a symbolic link Apply removes and Revert restores.
type Link struct {
	Path   string
	Target string
}

// unit is a section of the configuration that migrates as a whole: a <Directory>, <Location>,
// <Files> or <If> not inside another one, an access file, or the lines of the main server or a
// <VirtualHost> outside every such section.
type unit struct {
	kind   blockKind // kindDir, kindLoc, kindFiles, kindIf; kindTop or kindVhost for server lines
	access bool      // an access file (kind is kindDir)
	label  string
	path   string // the path --section matches ("" when only arg can match)
	arg    string // the section's argument as written
	regex  bool   // a regular expression section
	file   string
	line   int
	scope  *unit // the main server's or the <VirtualHost>'s server-line unit

	pending  int          // Python and mod_python handler lines not yet inside <IfDefine MPGATE>
	done     int          // Python lines inside <IfDefine MPGATE>
	handlers []inherited  // pending mod_python handler lines
	phases   []pythonLine // pending Python*Handler lines of the phases around content
	override string       // an access file: the AllowOverride in effect

	selected bool        // the plan guards its pending lines
	inherit  []inherited // pass 2: handler lines above it that its FastCGI handler must also replace
}

// inherited is a mod_python handler line, where it was read.
type inherited struct {
	h    *handlerLine
	file string
	line int
}

// pythonLine is a Python* line where it was read.
type pythonLine struct {
	name string
	file string
	line int
}

// migration is the state Migrate shares between its passes and the walk.
type migration struct {
	opts     MigrateOptions
	pass2    bool
	units    map[string]*unit // by key: "FILE:LINE" of the section, "FILE" of an access file
	list     []*unit          // real sections, in order
	main     *unit            // the main server's lines
	vhosts   []*unit          // each <VirtualHost>'s lines
	orig     map[string][]byte
	full     bool // after the plan every section is served by mpgate: server lines migrate too
	tag      bool // some section is served by mpgate after the plan: tag the virtual hosts
	snippet  bool // the configuration already Includes an mpgate snippet at server level
	loads    []pythonLine
	unlink   map[string]bool // files whose LoadModule python_module goes by removing their link
	includes []string        // every Include pattern, absolute
	edits    int             // pass 2: edits made so far (for where the server-level lines go)
	insertAt int             // pass 2: offset in the main file's new text for the server lines
}

// phaseHandlers are the Python*Handler directives of the phases around content: mod_python runs
// them wherever they apply, whatever the handler, so a still-loaded mod_python would run them for
// a migrated section too (fastcgi-apache.md §6).
var phaseHandlers = []string{
	"pythonpostreadrequesthandler", "pythontranshandler", "pythonheaderparserhandler",
	"pythoninithandler", "pythonaccesshandler", "pythonauthenhandler", "pythonauthzhandler",
	"pythontypehandler", "pythonfixuphandler", "pythonloghandler", "pythoncleanuphandler",
}

// unservable are the directives mpgate cannot honour behind FastCGI: migrating a section holding
// one would silently drop what it does.
var unservable = []string{"pythoninputfilter", "pythonoutputfilter", "pythonconnectionhandler"}

// snippetRE matches the file names of apache-conf's snippets.
var snippetRE = regexp.MustCompile(`^mpgate-(proxy|fcgid|cgi)\.conf$`)

// Migrate reads the configuration opts.Config and every file it includes, and the access files
// Apache reads under its DocumentRoots and <Directory> sections, and returns the plan that makes
// Apache hand the chosen sections to mpgate in place: their Python* and mod_python handler lines
// inside <IfDefine MPGATE> with the FastCGI handler beside them (as Site does), every
// <VirtualHost> tagged with SetEnv MPGATE_VHOST, and the apache-conf snippet for opts.Via
// included once at server level, before the first line that needs it. Sections not chosen are
// left as they are, so a still-loaded mod_python serves them. Lines outside every section (the
// main server's and each <VirtualHost>'s own) migrate when nothing is left to mod_python.
// Running Migrate on its own result changes nothing. Configuration problems, and what cannot be
// migrated safely, are *Error values naming the file and line.
func Migrate(opts MigrateOptions) (*Plan, error) {
	if opts.Config == "" {
		return nil, errors.New("rewrite: no Config")
	}
	if opts.RunDir == "" {
		return nil, errors.New("rewrite: no RunDir")
	}
	if opts.SnippetDir == "" {
		return nil, errors.New("rewrite: no SnippetDir")
	}
	if opts.Via == ViaProxy && opts.Socket == "" {
		opts.Socket = filepath.Join(opts.RunDir, "mpgate.sock")
	}
	m := &migration{opts: opts, units: make(map[string]*unit), orig: make(map[string][]byte), unlink: make(map[string]bool), insertAt: -1}
	m.main = &unit{kind: kindTop, label: "server level (outside every <VirtualHost> and section)"}

	// Pass 1: find the sections, what they hold and what Apache reads.
	rw1, err := m.newPass()
	if err != nil {
		return nil, err
	}
	if err := rw1.walkMain(); err != nil {
		return nil, err
	}
	access, err := rw1.scan.accessFiles()
	if err != nil {
		return nil, fmt.Errorf("rewrite: %w", err)
	}
	for _, af := range access {
		u := &unit{kind: kindDir, access: true, label: af.path, path: af.dir, arg: af.dir, file: af.path, scope: m.main, override: af.override}
		m.units[af.path] = u
		data, err := os.ReadFile(af.path)
		if err != nil {
			return nil, fmt.Errorf("rewrite: %w", err)
		}
		if _, err := rw1.rewriteText(af.path, string(data), []*block{accessBlock(af, u)}, true); err != nil {
			return nil, err
		}
		if u.pending+u.done > 0 {
			m.list = append(m.list, u)
		}
	}
	if err := m.decide(); err != nil {
		return nil, err
	}

	// Pass 2: the edits.
	m.pass2 = true
	rw2, err := m.newPass()
	if err != nil {
		return nil, err
	}
	if err := rw2.walkMain(); err != nil {
		return nil, err
	}
	newText := make(map[string]string)
	for _, p := range rw2.order {
		newText[p] = rw2.outputs[p]
	}
	for _, af := range access {
		u := m.units[af.path]
		if u.pending+u.done == 0 {
			continue
		}
		text, err := rw2.rewriteText(af.path, string(m.orig[af.path]), []*block{accessBlock(af, u)}, true)
		if err != nil {
			return nil, err
		}
		newText[af.path] = text
	}
	if err := m.checkOverrides(rw2.changes); err != nil {
		return nil, err
	}
	plan := &Plan{Via: opts.Via, Full: m.full, Changes: rw2.changes, Includes: m.includes, Snippet: filepath.Join(opts.SnippetDir, "mpgate-"+string(opts.Via)+".conf")}
	if m.tag && !m.snippet {
		main := newText[rw2.src]
		at := m.insertAt
		if at < 0 {
			at = len(main)
			if at > 0 && !strings.HasSuffix(main, "\n") {
				main += "\n"
				at++
			}
		}
		lines := m.serverLines(rw2, plan.Snippet)
		newText[rw2.src] = main[:at] + lines + main[at:]
		plan.Changes = append(plan.Changes, Change{File: rw2.src, Line: strings.Count(main[:at], "\n") + 1, Kind: SnippetIncluded, Text: "server level", Added: strings.Split(strings.TrimSuffix(lines, "\n"), "\n")})
	}
	// Files in the order Apache reads them, access files last.
	order := slices.Clone(rw2.order)
	for _, af := range access {
		if _, ok := newText[af.path]; ok {
			order = append(order, af.path)
		}
	}
	byReal := make(map[string]int)
	for _, p := range order {
		text := newText[p]
		text = fixVhostTags(p, text)
		if text == string(m.orig[p]) {
			continue
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			return nil, fmt.Errorf("rewrite: %w", err)
		}
		if i, ok := byReal[real]; ok {
			if string(plan.Files[i].New) != text {
				return nil, fmt.Errorf("rewrite: %s and %s are the same file but need different changes; include it once", plan.Files[i].Read, p)
			}
			continue
		}
		byReal[real] = len(plan.Files)
		plan.Files = append(plan.Files, FileEdit{Path: real, Read: p, Old: m.orig[p], New: []byte(text)})
	}
	if m.tag && !m.snippet {
		if _, err := os.Stat(plan.Snippet); err != nil {
			if opts.SnippetText == nil {
				return nil, fmt.Errorf("rewrite: the snippet %s: %w (install mpgate's apache-conf files there)", plan.Snippet, err)
			}
			plan.Files = append(plan.Files, FileEdit{Path: plan.Snippet, Read: plan.Snippet, New: opts.SnippetText, Created: true})
		}
	}
	for _, l := range m.loads {
		if !m.opts.DisableModPython {
			plan.ModPython = append(plan.ModPython, fmt.Sprintf("%s:%d", l.file, l.line))
			continue
		}
		if m.unlink[l.file] {
			links, err := modPythonLinks(l.file)
			if err != nil {
				return nil, err
			}
			for _, k := range links {
				if !slices.Contains(plan.RemoveLinks, k) {
					plan.RemoveLinks = append(plan.RemoveLinks, k)
				}
			}
		}
	}
	for _, u := range m.list {
		s := Section{Label: u.label, File: u.file, Line: u.line, Path: u.path, State: Left}
		if s.Path == "" {
			s.Path = u.arg
		}
		switch {
		case u.selected:
			s.State = Chosen
		case u.pending == 0:
			s.State = Migrated
		}
		plan.Sections = append(plan.Sections, s)
	}
	return plan, nil
}

// newPass returns the rewriter of one pass.
func (m *migration) newPass() (*rewriter, error) {
	o := m.opts
	return newRewriter(o.Config, Options{
		Via:        o.Via,
		Socket:     o.Socket,
		Mpgate:     o.Mpgate,
		RunDir:     o.RunDir,
		Config:     o.Config,
		Args:       o.Args,
		ServerRoot: o.ServerRoot,
		Defines:    o.Defines,
		LookupEnv:  o.LookupEnv,
	}, m)
}

// walkMain walks the main file and everything it includes.
func (rw *rewriter) walkMain() error {
	if err := rw.rewriteFile(rw.src, nil); err != nil {
		var e *Error
		if errors.As(err, &e) {
			return err
		}
		return fmt.Errorf("rewrite: %w", err)
	}
	return nil
}

// accessBlock is the <Directory> an access file's lines are read in.
func accessBlock(af accessFile, u *unit) *block {
	return &block{kind: kindDir, name: "Directory", open: `<Directory "` + af.dir + `">`, file: af.path, truth: truthTrue, unit: u, eol: "\n"}
}

// decide chooses the sections after pass 1 and works out what each chosen one inherits.
func (m *migration) decide() error {
	var real []*unit
	for _, u := range m.list {
		if u.pending+u.done > 0 {
			real = append(real, u)
		}
	}
	m.list = real
	all := append([]*unit{m.main}, m.vhosts...)
	all = append(all, real...)
	if !slices.ContainsFunc(all, func(u *unit) bool { return u.pending+u.done > 0 }) {
		return fmt.Errorf("rewrite: %s: nothing in the configuration uses mod_python (no Python* or mod_python handler lines, in the files it includes or the access files Apache reads)", m.opts.Config)
	}
	for _, s := range m.opts.Sections {
		found := false
		for _, u := range real {
			if u.matches(s) {
				found = true
				u.selected = u.pending > 0
			}
		}
		if !found {
			var b strings.Builder
			for _, u := range real {
				fmt.Fprintf(&b, "\n  %s", u.describe())
			}
			return fmt.Errorf("rewrite: --section %s: no section using mod_python there; the sections are:%s", s, b.String())
		}
	}
	if len(m.opts.Sections) == 0 {
		for _, u := range real {
			u.selected = u.pending > 0
		}
	}
	m.full = !slices.ContainsFunc(real, func(u *unit) bool { return u.pending > 0 && !u.selected })
	for _, u := range append([]*unit{m.main}, m.vhosts...) {
		u.selected = m.full && u.pending > 0
	}
	m.tag = slices.ContainsFunc(all, func(u *unit) bool { return u.selected || u.done > 0 })
	if m.opts.DisableModPython {
		if !m.full {
			var left []string
			for _, u := range real {
				if u.pending > 0 && !u.selected {
					left = append(left, u.describe())
				}
			}
			return fmt.Errorf("rewrite: --disable-mod-python: mod_python still serves %s; migrate them too", strings.Join(left, ", "))
		}
		for _, l := range m.loads {
			if fi, err := os.Lstat(l.file); err == nil && fi.Mode()&os.ModeSymlink != 0 && filepath.Base(filepath.Dir(l.file)) == "mods-enabled" {
				m.unlink[l.file] = true
			}
		}
	}
	if m.full {
		return nil
	}
	// While mod_python serves other sections, a chosen one must not inherit what mod_python
	// would still do there: its handler lines get a FastCGI handler inside the section, its
	// phase handlers cannot be hidden from the section alone.
	for _, u := range real {
		if !u.selected {
			continue
		}
		for _, a := range m.above(u) {
			if len(a.phases) > 0 {
				p := a.phases[0]
				how := fmt.Sprintf("migrate %s in the same step (--section %s), or everything at once (no --section)", a.describe(), a.path)
				if a.kind == kindTop || a.kind == kindVhost || a.path == "" {
					how = "lines outside sections move with the last section: migrate every section at once (no --section)"
				}
				return &Error{File: p.file, Line: p.line, Directive: p.name, Err: fmt.Errorf(
					"applies to %s too, which is to be migrated; while mod_python is loaded it would still run this handler there, and mpgate would run it again: %s",
					u.describe(), how)}
			}
			u.inherit = append(u.inherit, a.handlers...)
		}
	}
	return nil
}

// above returns the units whose pending lines apply to u and that stay with mod_python: the server
// lines of the main server and of u's <VirtualHost>, and the sections at a path above u's.
func (m *migration) above(u *unit) []*unit {
	var out []*unit
	if !m.main.selected {
		out = append(out, m.main)
	}
	if u.scope != nil && u.scope != m.main && !u.scope.selected {
		out = append(out, u.scope)
	}
	for _, a := range m.list {
		if a == u || a.selected || a.pending == 0 || a.regex || u.regex || a.path == "" || u.path == "" {
			continue
		}
		if a.scope != m.main && a.scope != u.scope {
			continue
		}
		switch {
		case u.kind == kindDir && a.kind == kindDir && !a.access:
			// A <Directory> above; for an access file, also the one of its own directory.
			if pathBelow(u.path, a.path) || (u.access && u.path == a.path) {
				out = append(out, a)
			}
		case u.kind == kindDir && a.access:
			if pathBelow(u.path, a.path) {
				out = append(out, a)
			}
		case u.kind == kindLoc && a.kind == kindLoc:
			if pathBelow(u.path, a.path) {
				out = append(out, a)
			}
		}
	}
	return out
}

// pathBelow reports whether p is strictly below dir.
func pathBelow(p, dir string) bool {
	if dir == "/" {
		return p != "/"
	}
	return strings.HasPrefix(p, dir+"/")
}

// matches reports whether --section s chooses u: s is u's path or a path above it, or u's
// argument as written.
func (u *unit) matches(s string) bool {
	if s == u.arg || (u.kind == kindTop || u.kind == kindVhost) {
		return s == u.arg && s != ""
	}
	if u.path == "" || !strings.HasPrefix(s, "/") {
		return false
	}
	s = path.Clean(s)
	return u.path == s || pathBelow(u.path, s)
}

// describe names u for messages: its label and where it is.
func (u *unit) describe() string {
	if u.access || u.file == "" {
		return u.label
	}
	return fmt.Sprintf("%s (%s:%d)", u.label, u.file, u.line)
}

// checkOverrides refuses access files whose directory's AllowOverride does not allow the lines
// added to them: Apache would answer 500 (apachectl -t does not read access files).
func (m *migration) checkOverrides(changes []Change) error {
	for _, c := range changes {
		u, ok := m.units[c.File]
		if !ok || !u.access || c.Kind != HandlerAdded {
			continue
		}
		for _, l := range c.Added {
			name, _ := directive(line{text: l})
			if strings.HasPrefix(name, "<") {
				continue
			}
			if !allows(u.override, name) {
				return &Error{File: c.File, Line: c.Line, Directive: name, Err: fmt.Errorf(
					"the FastCGI handler needs %q here, which AllowOverride %s does not allow in %s (Apache would answer 500); allow %s for %s, or migrate with another --via",
					l, u.override, filepath.Dir(c.File), overrideClasses[strings.ToLower(name)], filepath.Dir(c.File))}
			}
		}
	}
	return nil
}

// serverLines returns the server-level lines that include the snippet.
func (m *migration) serverLines(rw *rewriter, snippet string) string {
	o := m.opts
	var b strings.Builder
	b.WriteString("# Added by mpgate migrate: the server-level part of the sections Apache hands to mpgate\n")
	b.WriteString("# (their Python* lines are kept inside <IfDefine MPGATE>). `mpgate migrate --revert` undoes it.\n")
	def := func(name, val string) { fmt.Fprintf(&b, "Define %s %s\n", name, quoteArg(val, false)) }
	if o.Via != ViaProxy {
		def("MPGATE_BIN", o.Mpgate)
		def("MPGATE_CONFIG", rw.src)
	}
	def("MPGATE_RUN", o.RunDir)
	if o.Via == ViaProxy && o.AuthzPort > 0 {
		def("MPGATE_AUTHZ_PORT", strconv.Itoa(o.AuthzPort))
	}
	fmt.Fprintf(&b, "Include %s\n", quoteArg(snippet, false))
	if o.Via == ViaCGI && (rw.opts.ServerRoot != "/etc/apache2" || len(o.Defines) > 0) {
		// The CGI relay takes its flags from the environment (apache-conf/mpgate-cgi.conf).
		b.WriteString("<Location /mpgate-cgi>\n")
		if rw.opts.ServerRoot != "/etc/apache2" {
			fmt.Fprintf(&b, "    SetEnv MPGATE_SERVER_ROOT %s\n", quoteArg(rw.opts.ServerRoot, false))
		}
		if len(o.Defines) > 0 {
			fmt.Fprintf(&b, "    SetEnv MPGATE_DEFINES %s\n", quoteArg(strings.Join(o.Defines, ","), false))
		}
		b.WriteString("</Location>\n")
	}
	b.WriteString("\n")
	return b.String()
}

// modPythonLinks returns the mods-enabled links of mod_python: the python.load link f and a
// python.conf link beside it.
func modPythonLinks(f string) ([]Link, error) {
	var out []Link
	for _, p := range []string{f, filepath.Join(filepath.Dir(f), strings.TrimSuffix(filepath.Base(f), ".load")+".conf")} {
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			continue
		}
		t, err := os.Readlink(p)
		if err != nil {
			return nil, fmt.Errorf("rewrite: %w", err)
		}
		out = append(out, Link{Path: p, Target: t})
	}
	return out, nil
}

// The walk's hooks (site.go calls them when rw.mig is set).

// curUnit returns the unit the walk is in.
func (w *fileWalk) curUnit() *unit {
	for i := len(w.stack) - 1; i >= 0; i-- {
		b := w.stack[i]
		if b.unit != nil {
			return b.unit
		}
		if b.vunit != nil {
			return b.vunit
		}
	}
	return w.rw.mig.main
}

// migLine is called for each Python* or mod_python handler line outside <IfDefine MPGATE>. In
// pass 1 it records it; in pass 2 it says whether to guard it.
func (w *fileWalk) migLine(ln line, name string, h *handlerLine) (bool, error) {
	m := w.rw.mig
	if strings.EqualFold(name, "LoadModule") {
		if !m.pass2 {
			if w.truth() != truthFalse {
				m.loads = append(m.loads, pythonLine{name: name, file: w.file, line: ln.first})
			}
			return false, nil
		}
		return m.opts.DisableModPython && !m.unlink[w.file], nil
	}
	u := w.curUnit()
	lower := strings.ToLower(name)
	if !m.pass2 {
		u.pending++
		if h != nil {
			u.handlers = append(u.handlers, inherited{h: h, file: w.file, line: ln.first})
		}
		if slices.Contains(phaseHandlers, lower) {
			u.phases = append(u.phases, pythonLine{name: name, file: w.file, line: ln.first})
		}
		return false, nil
	}
	if !u.selected {
		return false, nil
	}
	if slices.Contains(unservable, lower) {
		return false, &Error{File: w.file, Line: ln.first, Directive: name, Err: fmt.Errorf(
			"mpgate cannot run it behind FastCGI (see mpgate config check); leave %s on mod_python (do not choose it) or remove the directive first", u.describe())}
	}
	return true, nil
}

// migGuarded records the Python lines of an <IfDefine MPGATE> block (lines i..end): what an
// earlier run migrated.
func (w *fileWalk) migGuarded(i, end int) {
	m := w.rw.mig
	if m.pass2 {
		return
	}
	u := w.curUnit()
	for j := i + 1; j < end; j++ {
		if w.lines[j].isComment() {
			continue
		}
		if name, args := directive(w.lines[j]); !strings.EqualFold(name, "LoadModule") {
			if g, _ := guardable(name, args); g {
				u.done++
			}
		}
	}
}

// migGuardHere reports whether an <IfModule !mod_python.c> block at this point goes inside
// <IfDefine MPGATE> (always for Site; for Migrate, inside a chosen section).
func (w *fileWalk) migGuardHere() bool {
	m := w.rw.mig
	if m == nil {
		return true
	}
	// Once nothing is left to mod_python, it may be disabled, which would make every such block
	// true; while it is loaded, they are false for Apache either way.
	return m.pass2 && (m.full || w.curUnit().selected)
}

// migOpen makes b a unit when it is a section not inside another one.
func (w *fileWalk) migOpen(b *block, sec sectionLine) {
	m := w.rw.mig
	key := fmt.Sprintf("%s:%d", w.file, b.line)
	if b.kind == kindVhost {
		if u, ok := m.units[key]; ok {
			b.vunit = u
			return
		}
		u := &unit{kind: kindVhost, label: b.open, file: w.file, line: b.line, arg: key}
		m.units[key] = u
		m.vhosts = append(m.vhosts, u)
		b.vunit = u
		return
	}
	switch b.kind {
	case kindDir, kindLoc, kindFiles, kindIf:
	default:
		return
	}
	for _, o := range w.stack {
		if o.unit != nil {
			return
		}
	}
	if u, ok := m.units[key]; ok {
		b.unit = u
		return
	}
	u := &unit{kind: b.kind, label: b.open, file: w.file, line: b.line, scope: m.main}
	for i := len(w.stack) - 1; i >= 0; i-- {
		if w.stack[i].vunit != nil {
			u.scope = w.stack[i].vunit
			break
		}
	}
	ws := words(w.rw.expand(sec.args))
	u.arg = strings.TrimSpace(sec.args)
	if len(ws) > 0 {
		u.arg = ws[0].val
	}
	lname := strings.ToLower(sec.name)
	u.regex = strings.HasSuffix(lname, "match") || (len(ws) > 1 && ws[0].val == "~")
	if u.regex && len(ws) > 1 && ws[0].val == "~" {
		u.arg = "~ " + ws[1].val
	}
	switch {
	case u.regex:
	case b.kind == kindDir && b.dir != nil:
		u.path = b.dir.path
	case b.kind == kindLoc && strings.HasPrefix(u.arg, "/"):
		u.path = path.Clean(u.arg)
	}
	m.units[key] = u
	m.list = append(m.list, u)
	b.unit = u
}

// migOpened is called in Migrate mode after the opening line i of b (closing at end) was written:
// it tags a <VirtualHost> and adds, at the top of a chosen section, the FastCGI handlers for the
// mod_python handler lines it inherits.
func (w *fileWalk) migOpened(i, end int, b *block) error {
	m := w.rw.mig
	if !m.pass2 {
		return nil
	}
	ln := w.lines[i]
	if b.kind == kindVhost && m.tag && !w.hasVhostTag(i+1, end) {
		if strings.Contains(w.file, `"`) {
			return &Error{File: w.file, Line: ln.first, Directive: b.open, Err: errors.New("a file name with a quote cannot be named in SetEnv MPGATE_VHOST")}
		}
		tag := fmt.Sprintf(`SetEnv MPGATE_VHOST "%s:%d"`, w.file, ln.first) // the line is fixed once the file is complete
		w.gen(w.bodyIndent(i, end) + tag + b.eol)
		w.change(ln, VhostTagged, []string{tag})
		w.edited("")
	}
	if b.unit != nil && b.unit.selected && len(b.unit.inherit) > 0 {
		return w.addInherited(ln, w.bodyIndent(i, end), b)
	}
	return nil
}

// addInherited writes, at indentation ind, the FastCGI handlers for what the chosen unit of b
// inherits.
func (w *fileWalk) addInherited(ln line, ind string, b *block) error {
	var adds []*addition
	for _, in := range b.unit.inherit {
		add, err := w.place(ln, in.h)
		if err != nil {
			return err
		}
		if add != nil {
			adds = append(adds, add)
		}
	}
	if len(adds) > 0 {
		w.emit(ind, b.eol, nil, adds, b)
		w.edited("")
	}
	return nil
}

// migStart is called before a file's first line: an access file of a chosen unit starts with the
// FastCGI handlers for what the unit inherits.
func (w *fileWalk) migStart() error {
	m := w.rw.mig
	if m == nil || !m.pass2 || len(w.stack) != 1 {
		return nil
	}
	b := w.stack[0]
	if b.unit == nil || !b.unit.access || b.file != w.file || !b.unit.selected || len(b.unit.inherit) == 0 {
		return nil
	}
	ln := line{first: 1, last: 1, text: "(access file " + w.file + ")"}
	return w.addInherited(ln, "", b)
}

// migInclude walks the files an Include names, leaving the line as it is.
func (w *fileWalk) migInclude(ln line, name, args string) error {
	p, _, fail, err := w.includePath(ln, name, args)
	if err != nil {
		return err
	}
	if m := w.rw.mig; !m.pass2 && !slices.Contains(m.includes, p) {
		m.includes = append(m.includes, p)
	}
	if snippetRE.MatchString(filepath.Base(p)) && !slices.ContainsFunc(w.stack, func(b *block) bool { return b.kind != kindCond }) {
		w.rw.mig.snippet = true
	}
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
	w.raw(ln.raw)
	return nil
}

// edited counts an edit of pass 2 (LoadModule lines do not count: the server-level lines need not
// come before them).
func (w *fileWalk) edited(name string) {
	if m := w.rw.mig; m != nil && m.pass2 && !strings.EqualFold(name, "LoadModule") {
		m.edits++
	}
}

// migBeforeStep and migAfterStep find the first top-level statement of the main file that holds
// an edit: the server-level lines go before it.
func (w *fileWalk) migBeforeStep() {
	m := w.rw.mig
	if m == nil || !m.pass2 || w.file != w.rw.src || len(w.stack) != 0 || len(w.group) != 0 {
		return
	}
	w.topPos, w.topEdits = w.out.Len(), m.edits
}

func (w *fileWalk) migAfterStep() {
	m := w.rw.mig
	if m == nil || !m.pass2 || w.file != w.rw.src || len(w.stack) != 0 {
		return
	}
	if m.insertAt < 0 && m.edits > w.topEdits {
		m.insertAt = w.topPos
	}
}

// fixVhostTags sets every SetEnv MPGATE_VHOST line (outside <IfDefine MPGATE>) in text, the
// complete new text of file, to the FILE:LINE of its <VirtualHost> in that text: the ID the
// daemon gives the virtual host when it reads the file.
func fixVhostTags(file, text string) string {
	lines := splitLines(text)
	var b strings.Builder
	var vhosts []int // opening lines of the open <VirtualHost> sections
	skip := 0        // depth inside <IfDefine MPGATE>
	for _, ln := range lines {
		if ln.isComment() {
			b.WriteString(ln.raw)
			continue
		}
		if sec, ok, _ := parseSection(ln); ok {
			switch {
			case skip > 0 && sec.close && strings.EqualFold(sec.name, "IfDefine"):
				skip--
			case skip > 0 && !sec.close && strings.EqualFold(sec.name, "IfDefine"):
				skip++
			case skip > 0:
			case !sec.close && strings.EqualFold(sec.name, "IfDefine"):
				if neg, arg := condArg(sec.args); !neg && arg == "MPGATE" {
					skip = 1
				}
			case strings.EqualFold(sec.name, "VirtualHost") && !sec.close:
				vhosts = append(vhosts, ln.first)
			case strings.EqualFold(sec.name, "VirtualHost") && len(vhosts) > 0:
				vhosts = vhosts[:len(vhosts)-1]
			}
			b.WriteString(ln.raw)
			continue
		}
		name, args := directive(ln)
		if skip == 0 && len(vhosts) > 0 && strings.EqualFold(name, "SetEnv") {
			if ws := words(args); len(ws) > 0 && ws[0].val == "MPGATE_VHOST" {
				want := fmt.Sprintf("%s:%d", file, vhosts[len(vhosts)-1])
				if len(ws) != 2 || ws[1].val != want {
					b.WriteString(ln.indent() + fmt.Sprintf(`SetEnv MPGATE_VHOST "%s"`, want) + ln.eol)
					continue
				}
			}
		}
		b.WriteString(ln.raw)
	}
	return b.String()
}
