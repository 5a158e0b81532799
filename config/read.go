// This file reads configuration files into a directive tree, executing what
// Apache executes while reading (EXEC_ON_READ in config.c): Include and
// IncludeOptional, Define and UnDefine, ServerRoot, LoadModule, and the
// conditional sections <IfModule>, <IfDefine>, <IfVersion>, <IfFile>,
// <IfDirective>, <IfSection>. A true conditional's body is spliced into its
// parent; a false one is skipped unparsed, as ap_soak_end_container does.

package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// node is one directive of the tree, after Include and conditional sections
// have been resolved. The tree keeps every directive, including other
// modules', so that later tools can show it.
type node struct {
	name     string // as written, without '<' for sections: "PythonHandler", "Directory"
	args     string // after ${VAR} expansion; for sections, the text before the closing '>'
	file     string
	line     int
	seq      int // reading order, across files
	section  bool
	children []*node
}

// fileSystem is what the reader needs from the disk; tests and the fuzzer
// substitute an in-memory one.
type fileSystem interface {
	ReadFile(name string) ([]byte, error)
	Stat(name string) (fs.FileInfo, error)
	ReadDir(name string) ([]fs.DirEntry, error)
}

type osFS struct{}

func (osFS) ReadFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFileBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, maxFileBytes)
	}
	return b, nil
}

func (osFS) Stat(name string) (fs.FileInfo, error)      { return os.Stat(name) }
func (osFS) ReadDir(name string) ([]fs.DirEntry, error) { return os.ReadDir(name) }

// reader holds the state of one Load while files are read.
type reader struct {
	serverName string // Options.ServerName
	fs         fileSystem
	serverRoot string
	defines    []string          // for <IfDefine>, in definition order
	vars       map[string]string // Define NAME VALUE, for ${NAME}
	env        map[string]string // from the envvars file
	modules    map[string]bool   // for <IfModule>
	includes   int               // current Include nesting
	files      int
	bytes      int64
	errs       []*Error
	warns      []Warning
	stopped    bool // too many errors
	seq        int  // lines read so far; the current line's position in reading order
	htaccess   bool // reading a .htaccess file: nothing is executed at read time but the conditionals
}

// frame is an open section or true conditional while a file is read.
type frame struct {
	n    *node // nil for a conditional, whose body belongs to the enclosing section
	name string
	line int
	seq  int
}

func (r *reader) errorf(file string, line int, directive, format string, args ...any) {
	r.errorAt(r.seq, file, line, directive, format, args...)
}

func (r *reader) errorAt(seq int, file string, line int, directive, format string, args ...any) {
	if r.stopped {
		return
	}
	if len(r.errs) >= maxErrors {
		r.errs = append(r.errs, &Error{File: file, Line: line, Directive: directive, Err: errors.New("too many errors, stopped reading"), seq: seq})
		r.stopped = true
		return
	}
	r.errs = append(r.errs, &Error{File: file, Line: line, Directive: directive, Err: fmt.Errorf(format, args...), seq: seq})
}

func (r *reader) warnf(file string, line int, directive, format string, args ...any) {
	r.warnAt(r.seq, file, line, directive, format, args...)
}

func (r *reader) warnAt(seq int, file string, line int, directive, format string, args ...any) {
	switch {
	case len(r.warns) < maxWarnings:
		r.warns = append(r.warns, Warning{File: file, Line: line, Directive: directive, Msg: fmt.Sprintf(format, args...), seq: seq})
	case len(r.warns) == maxWarnings:
		r.warns = append(r.warns, Warning{File: file, Line: line, Directive: directive, Msg: "too many warnings; the rest are not shown", seq: seq})
	}
}

// lookupVar resolves ${NAME}: Define'd variables first, then the envvars
// file (Debian's apache2ctl exports it into httpd's environment), then the
// process environment (ap_resolve_env).
func (r *reader) lookupVar(name string) (string, bool) {
	if v, ok := r.vars[name]; ok {
		return v, true
	}
	if v, ok := r.env[name]; ok {
		return v, true
	}
	return os.LookupEnv(name)
}

// rootRelative is ap_server_root_relative.
func (r *reader) rootRelative(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(r.serverRoot, p)
}

// readFile reads one file and appends its directives to the list *into.
// enclosing names the innermost real section the Include sits in ("" at top level).
func (r *reader) readFile(name string, into *[]*node, enclosing string) error {
	if r.files >= maxFiles {
		return fmt.Errorf("more than %d configuration files", maxFiles)
	}
	src, err := r.fs.ReadFile(name)
	if err != nil {
		return err
	}
	r.files++
	r.bytes += int64(len(src))
	if r.bytes > maxTotalBytes {
		return fmt.Errorf("configuration larger than %d bytes in total", maxTotalBytes)
	}
	r.parse(name, src, into, enclosing)
	return nil
}

// parse builds the tree of one file. Sections cannot span files: each file
// starts with no open section, as ap_build_config does.
func (r *reader) parse(file string, src []byte, into *[]*node, enclosing string) {
	lines := splitLines(src)
	var stack []frame
	// target is where the next directive goes: the innermost open real section.
	target := func() *[]*node {
		for i := len(stack) - 1; i >= 0; i-- {
			if stack[i].n != nil {
				return &stack[i].n.children
			}
		}
		return into
	}
	inSection := func() string {
		for i := len(stack) - 1; i >= 0; i-- {
			if stack[i].n != nil {
				return stack[i].name
			}
		}
		return enclosing
	}
	for i := 0; i < len(lines) && !r.stopped; i++ {
		l := lines[i]
		r.seq++
		text := resolveEnv(l.text, r.lookupVar, func(v string) {
			first, _ := getwordConf(l.text)
			r.warnf(file, l.line, first, "config variable ${%s} is not defined", v)
		})
		cmd, args := getwordConf(text)
		if cmd == "" {
			continue
		}
		if strings.HasPrefix(cmd, "</") {
			name := cmd[2:]
			if !strings.HasSuffix(name, ">") {
				r.errorf(file, l.line, cmd+">", "missing closing '>'")
				continue
			}
			name = name[:len(name)-1]
			if len(stack) == 0 {
				r.errorf(file, l.line, "</"+name+">", "without matching <%s> section", name)
				continue
			}
			top := stack[len(stack)-1]
			if !strings.EqualFold(top.name, name) {
				if top.n == nil {
					r.errorf(file, l.line, "</"+name+">", "without matching <%s> section", name)
				} else {
					r.errorf(file, l.line, "</"+name+">", "expected </%s> (opened at line %d)", top.name, top.line)
				}
				continue
			}
			stack = stack[:len(stack)-1]
			continue
		}
		if strings.HasPrefix(cmd, "<") {
			name := strings.TrimSuffix(cmd[1:], ">")
			if args == "" {
				args = ">"
			}
			body, hasGT := sectionArgs(args)
			lname := strings.ToLower(name)
			if cond, ok := conditionals[lname]; ok {
				display := "<" + canonicalSection(name) + ">"
				if !hasGT {
					r.errorf(file, l.line, display, "missing closing '>'")
				}
				arg, _ := getwordConf(strings.TrimPrefix(body, "!"))
				if arg == "" {
					r.errorf(file, l.line, display, "requires additional arguments")
				}
				if arg != "" && cond(r, file, l.line, body) {
					stack = append(stack, frame{name: name, line: l.line, seq: r.seq})
					continue
				}
				var err string
				i, err = soak(lines, i, name)
				if err != "" {
					r.errorf(file, l.line, display, "%s", err)
				}
				continue
			}
			n := &node{name: name, args: body, file: file, line: l.line, seq: r.seq, section: true}
			if !hasGT {
				r.errorf(file, l.line, "<"+canonicalSection(name)+">", "missing closing '>'")
			}
			t := target()
			*t = append(*t, n)
			stack = append(stack, frame{n: n, name: name, line: l.line, seq: r.seq})
			continue
		}
		n := &node{name: cmd, args: args, file: file, line: l.line, seq: r.seq}
		if r.htaccess {
			switch strings.ToLower(cmd) {
			case "include", "includeoptional", "define", "undefine", "serverroot", "loadmodule":
				r.errorf(file, l.line, knownDirectives[strings.ToLower(cmd)].name, "not allowed here")
				continue
			}
		}
		switch strings.ToLower(cmd) {
		case "include", "includeoptional":
			r.include(n, strings.EqualFold(cmd, "includeoptional"), target(), inSection())
			continue
		case "define":
			r.define(n)
		case "undefine":
			r.undefine(n)
		case "serverroot":
			r.setServerRoot(n, inSection())
		case "loadmodule":
			r.loadModule(n, inSection())
		}
		t := target()
		*t = append(*t, n)
	}
	for i := len(stack) - 1; i >= 0; i-- {
		f := stack[i]
		if f.n == nil {
			// Apache accepts a true conditional left open at the end of a file.
			r.warnAt(f.seq, file, f.line, "<"+canonicalSection(f.name)+">", "was not closed")
			continue
		}
		r.errorAt(f.seq, file, f.line, "<"+canonicalSection(f.name)+">", "was not closed")
	}
}

// sectionArgs cuts the arguments of a section line at its last '>', like the
// section handlers' ap_strrchr_c(arg, '>').
func sectionArgs(args string) (body string, ok bool) {
	i := strings.LastIndexByte(args, '>')
	if i < 0 {
		return trimSpace(args), false
	}
	return trimSpace(args[:i]), true
}

// soak skips a false conditional's body, starting after lines[i], and returns
// the index of its closing line. Nested sections are tracked by name only;
// nothing is expanded or checked (ap_soak_end_container). A mismatched
// closing line is reported and taken as closing the innermost section, so
// that one mistake yields one error.
func soak(lines []cfgLine, i int, name string) (int, string) {
	stack := []string{name}
	var msg string
	for i++; i < len(lines); i++ {
		cmd, args := getwordConf(lines[i].text)
		if !strings.HasPrefix(cmd, "<") {
			continue
		}
		if strings.HasPrefix(cmd, "</") {
			closing := strings.TrimSuffix(cmd[2:], ">")
			top := stack[len(stack)-1]
			if !strings.EqualFold(closing, top) && msg == "" {
				msg = fmt.Sprintf("expected </%s> but saw </%s> at line %d", top, closing, lines[i].line)
			}
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				return i, msg
			}
			continue
		}
		n := cmd[1:]
		if args == "" {
			n = strings.TrimSuffix(n, ">")
		}
		stack = append(stack, n)
	}
	if msg == "" {
		msg = "was not closed"
	}
	return i, msg
}

// condFunc tests a read-time section; body is the text before '>'.
type condFunc func(r *reader, file string, line int, body string) bool

// conditionals are the read-time sections.
var conditionals map[string]condFunc

func init() {
	conditionals = map[string]condFunc{
		"ifmodule": negatable(func(r *reader, _ string, _ int, name string) bool {
			return r.modules[name]
		}),
		"ifdefine": negatable(func(r *reader, _ string, _ int, name string) bool {
			return containsString(r.defines, name)
		}),
		"iffile": negatable(func(r *reader, _ string, _ int, name string) bool {
			_, err := r.fs.Stat(r.rootRelative(name))
			return err == nil
		}),
		"ifdirective": negatable(func(r *reader, file string, line int, name string) bool {
			if _, ok := knownDirectives[strings.ToLower(name)]; ok {
				return true
			}
			r.warnf(file, line, "<IfDirective>", "cannot tell whether %s exists; taken as missing", name)
			return false
		}),
		"ifsection": negatable(func(r *reader, file string, line int, name string) bool {
			if _, ok := knownSections[strings.ToLower(name)]; ok {
				return true
			}
			r.warnf(file, line, "<IfSection>", "cannot tell whether <%s> exists; taken as missing", name)
			return false
		}),
		"ifversion": (*reader).ifVersion,
	}
}

// negatable turns a test of one name into a condFunc the way
// start_cond_section does: a '!' starting the arguments inverts it.
func negatable(test func(r *reader, file string, line int, name string) bool) condFunc {
	return func(r *reader, file string, line int, body string) bool {
		neg := strings.HasPrefix(body, "!")
		name, _ := getwordConf(strings.TrimPrefix(body, "!"))
		return test(r, file, line, name) != neg
	}
}

// ifVersion evaluates <IfVersion [[!]op] version> like mod_version against
// apacheVersion. What it cannot parse counts as true, with a warning.
func (r *reader) ifVersion(file string, line int, body string) bool {
	ws := words(body)
	var op, ver string
	switch len(ws) {
	case 1:
		op, ver = "=", ws[0]
	case 2:
		op, ver = ws[0], ws[1]
	default:
		r.warnf(file, line, "<IfVersion>", "cannot evaluate %q; taken as true", body)
		return true
	}
	reverse := false
	if strings.HasPrefix(op, "!") {
		reverse = true
		if len(op) > 1 {
			op = op[1:]
		}
	}
	var match bool
	bad := func() bool {
		r.warnf(file, line, "<IfVersion>", "cannot evaluate %q; taken as true", body)
		return true
	}
	cur := fmt.Sprintf("%d.%d.%d", apacheVersion[0], apacheVersion[1], apacheVersion[2])
	switch op {
	case "=", "==":
		if strings.HasPrefix(ver, "/") {
			if len(ver) < 2 || !strings.HasSuffix(ver, "/") {
				return bad()
			}
			re, err := compileRegex(ver[1 : len(ver)-1])
			if err != nil {
				return bad()
			}
			match = re.MatchString(cur)
			break
		}
		c, ok := compareVersion(ver)
		if !ok {
			return bad()
		}
		match = c == 0
	case "~":
		re, err := compileRegex(ver)
		if err != nil {
			return bad()
		}
		match = re.MatchString(cur)
	case "<", "<=", ">", ">=":
		c, ok := compareVersion(ver)
		if !ok {
			return bad()
		}
		switch op {
		case "<":
			match = c < 0
		case "<=":
			match = c <= 0
		case ">":
			match = c > 0
		case ">=":
			match = c >= 0
		}
	default:
		return bad()
	}
	return match != reverse
}

// compareVersion compares apacheVersion with "major[.minor[.patch]]"
// (missing parts are 0) and returns -1, 0 or 1.
func compareVersion(v string) (int, bool) {
	parts := strings.Split(v, ".")
	if len(parts) > 3 {
		return 0, false
	}
	var want [3]int
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || p == "" || p[0] < '0' || p[0] > '9' {
			return 0, false
		}
		want[i] = n
	}
	for i := range want {
		if apacheVersion[i] != want[i] {
			if apacheVersion[i] < want[i] {
				return -1, true
			}
			return 1, true
		}
	}
	return 0, true
}

// include processes Include and IncludeOptional (core.c include_config,
// ap_process_fnmatch_configs): a path relative to ServerRoot, wildcards in
// any component, a directory meaning every file below it in name order.
func (r *reader) include(n *node, optional bool, into *[]*node, enclosing string) {
	directive := "Include"
	if optional {
		directive = "IncludeOptional"
	}
	ws := words(n.args)
	if len(ws) != 1 {
		r.errorf(n.file, n.line, directive, "takes one argument")
		return
	}
	if r.includes >= maxIncludeDepth {
		r.errorf(n.file, n.line, directive, "exceeded maximum include depth of %d, there appears to be a recursion", maxIncludeDepth)
		return
	}
	r.includes++
	defer func() { r.includes-- }()
	name := r.rootRelative(ws[0])
	var err error
	if !fnmatchTest(name) {
		err = r.includePath(name, optional, into, enclosing, 0)
	} else {
		err = r.includeGlob("/", strings.TrimPrefix(name, "/"), optional, into, enclosing, 0)
	}
	if err != nil {
		r.errorf(n.file, n.line, directive, "%v", err)
	}
}

// includePath is ap_dir_nofnmatch: a directory is read recursively, every
// entry but "." and "..", sorted by name.
func (r *reader) includePath(name string, optional bool, into *[]*node, enclosing string, depth int) error {
	fi, err := r.fs.Stat(name)
	if err != nil {
		if optional {
			return nil
		}
		return fmt.Errorf("could not open configuration file %s: %w", name, unwrapPathError(err))
	}
	if !fi.IsDir() {
		return r.readFile(name, into, enclosing)
	}
	if depth >= maxIncludeDepth {
		return fmt.Errorf("directory %s exceeds the maximum include directory nesting level of %d", name, maxIncludeDepth)
	}
	ents, err := r.fs.ReadDir(name)
	if err != nil {
		return fmt.Errorf("could not open directory %s: %w", name, unwrapPathError(err))
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, e := range names {
		if err := r.includePath(path.Join(name, e), optional, into, enclosing, depth+1); err != nil {
			return err
		}
		if r.stopped {
			return nil
		}
	}
	return nil
}

// includeGlob is ap_dir_fnmatch: rest is matched one component at a time;
// a wildcard component matches directory entries with APR_FNM_PERIOD (a
// leading dot must be written), and only directories when more follows.
func (r *reader) includeGlob(dir, rest string, optional bool, into *[]*node, enclosing string, depth int) error {
	if depth > 64 {
		return fmt.Errorf("wildcard include %s is too deep", dir)
	}
	comp, more := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		comp, more = rest[:i], rest[i+1:]
	}
	if !fnmatchTest(comp) {
		p := path.Join(dir, comp)
		if more == "" {
			return r.includePath(p, optional, into, enclosing, depth)
		}
		return r.includeGlob(p, more, optional, into, enclosing, depth+1)
	}
	ents, err := r.fs.ReadDir(dir)
	if err != nil {
		if optional && errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("could not open directory %s: %w", dir, unwrapPathError(err))
	}
	var names []string
	for _, e := range ents {
		if !fnmatch(comp, e.Name(), fnmPeriod) {
			continue
		}
		if more != "" {
			fi, err := r.fs.Stat(path.Join(dir, e.Name()))
			if err != nil || !fi.IsDir() {
				continue
			}
		}
		names = append(names, e.Name())
	}
	if len(names) == 0 {
		if optional {
			return nil
		}
		return fmt.Errorf("no matches for the wildcard '%s' in '%s'", comp, dir)
	}
	sort.Strings(names)
	for _, e := range names {
		var err error
		if more == "" {
			err = r.includePath(path.Join(dir, e), optional, into, enclosing, depth)
		} else {
			err = r.includeGlob(path.Join(dir, e), more, optional, into, enclosing, depth+1)
		}
		if err != nil {
			return err
		}
		if r.stopped {
			return nil
		}
	}
	return nil
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// define is core.c set_define: the name becomes visible to <IfDefine>, and
// with a value to ${NAME}, from the next line on.
func (r *reader) define(n *node) {
	ws := words(n.args)
	if len(ws) < 1 || len(ws) > 2 || ws[0] == "" {
		r.errorf(n.file, n.line, "Define", "takes 1-2 arguments")
		return
	}
	name := ws[0]
	if strings.IndexByte(name, ':') >= 0 {
		r.errorf(n.file, n.line, "Define", "variable name must not contain ':'")
		return
	}
	if !containsString(r.defines, name) {
		r.defines = append(r.defines, name)
	}
	if len(ws) == 2 && ws[1] != "" {
		r.vars[name] = ws[1]
	}
}

func (r *reader) undefine(n *node) {
	ws := words(n.args)
	if len(ws) != 1 {
		r.errorf(n.file, n.line, "UnDefine", "takes one argument")
		return
	}
	name := ws[0]
	if strings.IndexByte(name, ':') >= 0 {
		r.errorf(n.file, n.line, "UnDefine", "variable name must not contain ':'")
		return
	}
	for i, d := range r.defines {
		if d == name {
			r.defines = append(r.defines[:i:i], r.defines[i+1:]...)
			break
		}
	}
	delete(r.vars, name)
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// globalOnly is ap_check_cmd_context(cmd, GLOBAL_ONLY) for the read-time
// directives, which only know the section they are read in.
func globalOnly(section string) string {
	switch {
	case section == "":
		return ""
	case strings.EqualFold(section, "VirtualHost"):
		return "cannot occur within <VirtualHost> section"
	case strings.EqualFold(section, "Limit") || strings.EqualFold(section, "LimitExcept"):
		return "cannot occur within <Limit> or <LimitExcept> section"
	}
	return "cannot occur within directory context"
}

func (r *reader) setServerRoot(n *node, section string) {
	if msg := globalOnly(section); msg != "" {
		r.errorf(n.file, n.line, "ServerRoot", "%s", msg)
		return
	}
	ws := words(n.args)
	if len(ws) != 1 {
		r.errorf(n.file, n.line, "ServerRoot", "takes one argument")
		return
	}
	root := r.rootRelative(ws[0])
	if fi, err := r.fs.Stat(root); err != nil || !fi.IsDir() {
		r.errorf(n.file, n.line, "ServerRoot", "must be a valid directory")
		return
	}
	r.serverRoot = root
}

// loadModule records the module for <IfModule>, under the names Apache's
// find_module would know it by: the symbol ("python_module") and the
// module's source file ("mod_python.c"), guessed from the symbol and from the
// shared object's name.
func (r *reader) loadModule(n *node, section string) {
	if msg := globalOnly(section); msg != "" {
		r.errorf(n.file, n.line, "LoadModule", "%s", msg)
		return
	}
	ws := words(n.args)
	if len(ws) != 2 {
		r.errorf(n.file, n.line, "LoadModule", "takes two arguments")
		return
	}
	r.addModule(ws[0])
	base := path.Base(ws[1])
	if i := strings.IndexByte(base, '.'); i > 0 {
		r.modules[base[:i]+".c"] = true
	}
}

// addModule marks a module as loaded under both of its names.
func (r *reader) addModule(name string) {
	r.modules[name] = true
	switch {
	case strings.HasSuffix(name, "_module"):
		r.modules["mod_"+strings.TrimSuffix(name, "_module")+".c"] = true
	case strings.HasPrefix(name, "mod_") && strings.HasSuffix(name, ".c"):
		r.modules[strings.TrimSuffix(strings.TrimPrefix(name, "mod_"), ".c")+"_module"] = true
	}
}

// builtinModules are compiled into Debian's apache2 (apache2 -l).
var builtinModules = []string{
	"core.c", "mod_so.c", "mod_watchdog.c", "http_core.c", "mod_log_config.c",
	"mod_logio.c", "mod_version.c", "mod_unixd.c",
	"core_module", "so_module", "watchdog_module", "http_module", "log_config_module",
	"logio_module", "version_module", "unixd_module",
}
