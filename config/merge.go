// This file answers "which configuration applies to this request": it walks
// the sections in Apache 2.4's order (request.c ap_location_walk,
// ap_directory_walk, ap_file_walk), merges them with mod_python's
// python_merge_config, and caches the result.

package config

import (
	"encoding/binary"
	"path"
	"strconv"
	"strings"
	"sync"
)

// Query identifies one request as Apache saw it.
type Query struct {
	VHost     string // MPGATE_VHOST if Apache passed it: a (*VirtualHost).ID(); "" or an unknown ID selects by address and name
	Host      string // Host header or SERVER_NAME, without port
	LocalAddr string // SERVER_ADDR
	LocalPort int    // SERVER_PORT; 0 matches any port
	URI       string // decoded URL path (SCRIPT_NAME + PATH_INFO)
	Filename  string // Apache's r->filename (SCRIPT_FILENAME), "" if none

	// Params gives the request's other CGI variables (REQUEST_METHOD,
	// QUERY_STRING, HTTP_*, HTTPS, ...) to <If> conditions; nil reads them
	// as "" but for Method and QueryString below.
	Params Params
	// Method and QueryString stand for REQUEST_METHOD and QUERY_STRING
	// when Params is nil (mpgate explain).
	Method      string
	QueryString string
}

// Handler is one entry of a phase's handler list (mod_python's hl_entry).
type Handler struct {
	Handler    string // "mod", "mod::obj"
	Directory  string // req.hlist.directory (mod_python.md §1.5); "" means None
	IsLocation bool   // from a <Location>: never added to sys.path
	Silent     bool   // from PythonHandlerModule: skipped when the module lacks the callable
	File       string // where the directive is
	Line       int
}

// Merged is the configuration in effect for one request. It is shared
// between requests with the same sections and must not be modified.
type Merged struct {
	VHost *VirtualHost
	// Handlers maps "PythonHandler", "PythonHandler.py", "PythonFixupHandler",
	// ... to their lists; an inner section replaces a key's list (§1.4).
	// Phase picks the list a phase runs.
	Handlers map[string][]Handler
	// Directives is req.get_config(): flags as "1"/"0", PythonPath as
	// written, PythonInterpreter, in order of first appearance.
	Directives []KV
	// Options is the merged PythonOption table with empty values kept: they
	// mask inherited ones. The order is APR's (first appearance, keys
	// compared without case), which matters: mod_python 3.5's
	// req.get_options() deletes empty values with a loop that skips the
	// entry after each one it deletes, so a masked key right after another
	// masked key stays, as "" (verified against Apache 2.4 + mod_python).
	Options []KV
	// SessionOptions is the merged PythonSessionOptions table (keys without
	// the mod_python.session. prefix), read by req.get_session_options().
	SessionOptions []KV
	// Handler is r->handler for the file: the SetHandler value, or the
	// AddHandler mapping of Filename's extensions ("mod_python",
	// "python-program", another module's, or "").
	Handler string
	// AddHandlerExts are the extensions (without '.') AddHandler maps to
	// mod_python or python-program: req.get_addhandler_exts().
	AddHandlerExts []string
	// IsLocation reports that a <Location> holding a Python*Handler is the
	// innermost section with mod_python configuration; mod_python then skips
	// URI-to-file translation, so <Directory> and <Files> do not apply and
	// req.filename and req.path_info are None (§1.7).
	IsLocation bool
	ConfigDir  string // the innermost section with mod_python configuration (§1.4); "" for none
	// Extension is everything from the first '.' of Query.Filename's base
	// name, '.' included, when some handler list is qualified with an
	// extension (PythonHandler.py, §2.3); Phase uses it, and it is
	// req.extension for a phase that has such a list. "" otherwise.
	Extension string
	// Interpreter is the interpreter name PythonHandler runs in (§1.8);
	// Phase gives it for other phases.
	Interpreter string
	PythonPath  string // as written, "" when unset
	Debug       bool   // PythonDebug, default off
	AutoReload  bool   // PythonAutoReload, default on
	AuthType    string // "" when unset or None
	AuthName    string
	// Require lists the Require lines in effect (the innermost section
	// having any replaces the outer ones: AuthMerging Off), as written.
	Require []string
	// AuthRequired reports that Apache would run the authentication and
	// authorization phases: some Require line needs a user (valid-user,
	// user, group, ...), not only all/ip/host/env/method/expr/local.
	AuthRequired bool
	// LogLevel is the plain LogLevel in effect for the request (r->log): a
	// section's, else the virtual host's (VirtualHost.LogLevel).
	LogLevel int
	// ErrorDocuments maps a status code to its ErrorDocument argument.
	ErrorDocuments map[int]string
	// Sections are the sections applied, in merge order: the main server,
	// the virtual host, then <Directory> sections and .htaccess files by
	// depth, <DirectoryMatch>, <Files>, <Location>, and the <If> sections
	// whose condition held.
	Sections []Section
	// Err, when not nil, is why Apache would refuse the request before any
	// handler runs: a broken line in a .htaccess file (Status 500), or a
	// .htaccess file that cannot be read (403). The caller answers Status
	// and logs Err, which names the file and line.
	Err    *Error
	Status int
	// Htaccess lists the .htaccess files read for the request, in walk
	// order, with the one that failed last when Err is set.
	Htaccess []string
	// Ifs lists the <If>, <ElseIf> and <Else> sections the if walk met,
	// with what became of each.
	Ifs []IfResult
	// DirectoryIndex is mod_dir's DirectoryIndex in effect ("index.html" by
	// default), as space-separated names; "disabled" turns it off.
	DirectoryIndex string
	// Origins says which section set each value: keys are directive names
	// ("PythonDebug", "SetHandler"), handler list keys ("PythonHandler.py"),
	// "PythonOption NAME", "AddHandler EXT", "ErrorDocument CODE".
	Origins map[string]Section

	origins     map[string]origin // with the directive's own position, for Explain
	warnings    []Warning         // of the .htaccess files read
	htSecs      []*section        // the .htaccess sections merged
	early       *serverLevel      // for the phases that run before URI translation
	filename    string            // req.filename, when the merge depends on it
	handlerFrom string            // the Origins key that decided Handler
}

// origin is where a merged value was set.
type origin struct {
	sec  *section
	file string
	line int
}

// serverLevel is a virtual host's configuration before any section applies.
type serverLevel struct {
	handlers   map[string][]Handler
	directives []KV
}

// interpMain is mod_python's name for the main interpreter.
const interpMain = "main_interpreter"

// Phase returns the handler list a request phase runs and the interpreter
// it runs in (mod_python.c python_handler, select_interp_name). phase is a
// directive name such as "PythonFixupHandler". PythonPostReadRequestHandler,
// PythonTransHandler and PythonInitHandler run before URI translation, with
// the virtual host's configuration only. Phase does not allocate.
func (m *Merged) Phase(phase string) ([]Handler, string) {
	switch phase {
	case "PythonPostReadRequestHandler", "PythonTransHandler", "PythonInitHandler":
		hs := m.early.handlers[phase]
		return hs, selectInterp(m.early.directives, "", hs, m.VHost)
	}
	var hs []Handler
	found := false
	if m.Extension != "" {
		hs, found = m.handlersFor(phase, m.Extension)
	}
	if !found {
		hs = m.Handlers[phase]
	}
	return hs, selectInterp(m.Directives, m.filename, hs, m.VHost)
}

// handlersFor looks up phase+ext without building the key on the heap.
func (m *Merged) handlersFor(phase, ext string) ([]Handler, bool) {
	var buf [96]byte
	key := append(append(buf[:0], phase...), ext...)
	hs, ok := m.Handlers[string(key)]
	return hs, ok
}

func lookupKV(list []KV, key string) (string, bool) {
	for _, kv := range list {
		if strings.EqualFold(kv.Key, key) {
			return kv.Value, true
		}
	}
	return "", false
}

// selectInterp is select_interp_name (§1.8).
func selectInterp(directives []KV, filename string, hs []Handler, v *VirtualHost) string {
	name := v.ServerName
	if s, ok := lookupKV(directives, "PythonInterpreter"); ok {
		name = s
	} else if s, _ := lookupKV(directives, "PythonInterpPerDirectory"); s == "1" {
		name = ""
		if filename != "" {
			name = dirOf(filename)
		}
	} else if s, _ := lookupKV(directives, "PythonInterpPerDirective"); s == "1" {
		name = ""
		if len(hs) > 0 {
			name = hs[0].Directory
		}
	}
	if name == "" {
		return interpMain
	}
	return name
}

// dirOf is ap_make_dirstr_parent: everything up to the last '/'. A name
// ending in '/' is taken to be a directory, which is what ap_is_directory
// would find for Apache's r->filename.
func dirOf(name string) string {
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return ""
	}
	return name[:i+1]
}

// lookupCache remembers merges. cores is keyed by virtual host and matched
// sections; variants adds the file name for the merges that depend on it.
type lookupCache struct {
	mu       sync.RWMutex // guards cores, variants
	cores    map[string]*core
	variants map[string]*Merged
}

// core is the merge of one set of sections, before anything that depends
// on the file name.
type core struct {
	v       *VirtualHost
	secs    []*section
	st      mergeState
	variant bool    // the result depends on Filename
	merged  *Merged // when !variant
	bad     *htFile // the .htaccess file that refuses the request
}

// Lookup returns the configuration for q. It never returns nil: a request
// no section matches gets its virtual host's (or the main server's)
// configuration. A repeated lookup is served from a bounded cache without
// allocating; the .htaccess files on the way are checked for changes
// (without a system call where inotify watches their directories).
func (c *Config) Lookup(q Query) *Merged {
	return c.lookupIn(c.selectVHost(&q), q)
}

// lookupIn is Lookup in a virtual host already selected.
func (c *Config) lookupIn(v *VirtualHost, q Query) *Merged {

	// Location walk first: a <Location> Python*Handler stops the directory
	// walk (mod_python's map-to-storage skip, §1.7).
	var locBuf [16]*section
	locs := locBuf[:0]
	uri := q.URI
	if strings.Contains(uri, "//") {
		uri = mergeSlashes(uri)
	}
	isLoc := false
	for _, s := range v.locs {
		if matchLocation(s, uri) {
			locs = append(locs, s)
			if s.py != nil {
				isLoc = s.py.isLocation
			}
		}
	}
	filename := q.Filename
	if isLoc {
		filename = ""
	}
	var secBuf [64]*section
	secs := secBuf[:0]
	var bad *htFile
	if filename != "" && filename[0] == '/' {
		if needsClean(filename) {
			filename = cleanFilename(filename)
		}
		secs, bad = c.walkDirs(v, filename, secs)
	}
	if bad == nil {
		secs = append(secs, locs...)
		hasIfs := false
		for _, s := range v.base {
			hasIfs = hasIfs || len(s.ifs) > 0
		}
		for _, s := range secs {
			hasIfs = hasIfs || len(s.ifs) > 0
		}
		if hasIfs {
			secs = c.ifWalk(v, q, filename, secs)
		}
	}

	var keyBuf [256]byte
	key := appendCoreKey(keyBuf[:0], v, secs, bad)

	c.cache.mu.RLock()
	co := c.cache.cores[string(key)]
	var m *Merged
	if co != nil && co.variant {
		key = append(key, filename...)
		m = c.cache.variants[string(key)]
	} else if co != nil {
		m = co.merged
	}
	c.cache.mu.RUnlock()
	if m != nil {
		return m
	}

	if co == nil {
		co = c.newCore(v, secs, bad)
		c.cache.mu.Lock()
		if old := c.cache.cores[string(key)]; old != nil {
			co = old
		} else {
			if c.cache.cores == nil {
				c.cache.cores = map[string]*core{}
			}
			evict(c.cache.cores)
			c.cache.cores[string(key)] = co
		}
		c.cache.mu.Unlock()
		if !co.variant {
			return co.merged
		}
		key = append(key, filename...)
	}
	m = co.finish(filename)
	c.cache.mu.Lock()
	if old := c.cache.variants[string(key)]; old != nil {
		m = old
	} else {
		if c.cache.variants == nil {
			c.cache.variants = map[string]*Merged{}
		}
		evict(c.cache.variants)
		c.cache.variants[string(key)] = m
	}
	c.cache.mu.Unlock()
	return m
}

// appendCoreKey appends the cache key of a virtual host and its matched
// sections (and the broken .htaccess file that stopped the walk). It says
// how many sections follow, so that it is never a prefix of another key: a
// variant key is this plus the file name, and a crafted file name must not
// be able to reach another set of sections' entry. A .htaccess file parsed
// anew has new section keys, so a changed file leads to new entries, and
// only requests below it see them.
func appendCoreKey(dst []byte, v *VirtualHost, secs []*section, bad *htFile) []byte {
	dst = binary.AppendUvarint(dst, uint64(v.index))
	dst = binary.AppendUvarint(dst, uint64(len(secs)))
	for _, s := range secs {
		dst = binary.AppendUvarint(dst, s.key)
	}
	if bad != nil {
		dst = binary.AppendUvarint(dst, bad.key)
	} else {
		dst = append(dst, 0)
	}
	return dst
}

// evict makes room in a full cache map by dropping an eighth of it; map
// iteration order is random, so this is random eviction.
func evict[V any](m map[string]V) {
	if len(m) < maxCacheEntries {
		return
	}
	n := maxCacheEntries / 8
	for k := range m {
		delete(m, k)
		n--
		if n == 0 {
			return
		}
	}
}

// walkDirs appends the <Directory> sections and .htaccess files, then the
// <DirectoryMatch> and <Files> sections that apply to filename
// (ap_directory_walk, then ap_file_walk). A .htaccess file that refuses
// requests stops the walk, and is returned.
func (c *Config) walkDirs(v *VirtualHost, filename string, secs []*section) ([]*section, *htFile) {
	dirStart := len(secs)
	dirs := v.dirs
	si := 0
	seg := 0
	// core_opts_merge: AllowOverride and AllowOverrideList as merged so
	// far; the server's default is "unset", which still reads .htaccess
	// files and allows nothing in them (request.c, verified with httpd 2.4).
	override := orUnset
	var listSec *section
	names := v.accessNamesKey
	for i := 0; i < len(filename); i++ {
		if filename[i] != '/' {
			continue
		}
		seg++
		prefix := filename[:i+1]
		for si < len(dirs) {
			d := dirs[si]
			if d.re != nil || d.components > seg {
				break
			}
			si++
			if d.components != 0 {
				if d.components < seg {
					continue
				}
				if d.fnmatch {
					if !fnmatch(d.path, prefix, fnmPathname) {
						continue
					}
				} else if d.path != prefix {
					continue
				}
			}
			secs = append(secs, d)
			if d.core.override&orUnset == 0 {
				override = d.core.override
			}
			if d.core.overrideList != nil {
				listSec = d
			}
		}
		if override == 0 && (listSec == nil || len(listSec.core.overrideList) == 0) {
			continue
		}
		f := c.htaccess(prefix, htPolicy{override: override, list: listSec, names: names}, v, listSec)
		if f.err != nil {
			return secs, f
		}
		if f.sec != nil {
			secs = append(secs, f.sec)
		}
	}
	for ; si < len(dirs); si++ {
		if d := dirs[si]; d.re != nil && d.re.MatchString(filename) {
			secs = append(secs, d)
		}
	}
	// File walk: the server's <Files>, then those nested in each matched
	// <Directory> or .htaccess file, in merge order (core.c merge of
	// sec_file).
	base := filename[strings.LastIndexByte(filename, '/')+1:]
	for _, f := range v.files {
		if matchFiles(f, base) {
			secs = append(secs, f)
		}
	}
	dirEnd := len(secs)
	for _, d := range secs[dirStart:dirEnd] {
		for _, f := range d.files {
			if matchFiles(f, base) {
				secs = append(secs, f)
			}
		}
	}
	return secs, nil
}

// ifWalk is ap_if_walk: the <If> sections of the server and of every
// section merged so far, in merge order, then those inside the ones that
// applied. A chain's <ElseIf>/<Else> is skipped once one of it applied.
func (c *Config) ifWalk(v *VirtualHost, q Query, filename string, secs []*section) []*section {
	e := exprEnv{q: &q, filename: filename, v: v, fs: c.rs.fs}
	var owners []*section
	owners = append(owners, v.base...)
	owners = append(owners, secs...)
	for len(owners) > 0 {
		var matched []*section
		for _, o := range owners {
			done := false // the chain has applied, or met a condition it cannot evaluate
			for _, s := range o.ifs {
				if !s.isElse {
					done = false
				} else if done {
					continue
				}
				switch {
				case s.Kind == "Else":
					matched = append(matched, s)
					done = true
				case s.cond == nil:
					done = true
				case s.cond(&e):
					matched = append(matched, s)
					done = true
				}
			}
		}
		secs = append(secs, matched...)
		owners = matched
	}
	return secs
}

func matchFiles(f *section, base string) bool {
	switch {
	case f.re != nil:
		return f.re.MatchString(base)
	case f.fnmatch:
		return fnmatch(f.path, base, fnmPathname)
	}
	return f.path == base
}

// matchLocation is ap_location_walk's test: a regex anywhere, a wildcard
// pattern against the whole path, otherwise a prefix ending at a '/' of
// either side.
func matchLocation(s *section, uri string) bool {
	switch {
	case s.re != nil:
		return s.re.MatchString(uri)
	case s.fnmatch:
		return fnmatch(s.path, uri, fnmPathname)
	}
	d := s.path
	if !strings.HasPrefix(uri, d) {
		return false
	}
	return len(d) == 0 || d[len(d)-1] == '/' || len(uri) == len(d) || uri[len(d)] == '/'
}

func mergeSlashes(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '/' && i > 0 && s[i-1] == '/' {
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// needsClean reports whether name has "//", "/./" or "/../" in it, which
// Apache's apr_filepath_merge would remove.
func needsClean(name string) bool {
	return strings.Contains(name, "//") || strings.Contains(name, "/./") ||
		strings.Contains(name, "/../") || strings.HasSuffix(name, "/.") || strings.HasSuffix(name, "/..")
}

func cleanFilename(name string) string {
	dir := strings.HasSuffix(name, "/") || strings.HasSuffix(name, "/.") || strings.HasSuffix(name, "/..")
	name = path.Clean(name)
	if dir && name != "/" {
		name += "/"
	}
	return name
}

// mergeState is a merge in progress: python_merge_config's py_config plus
// the core and mod_mime settings a request needs.
type mergeState struct {
	directives     []kvo
	options        []kvo
	session        []kvo
	handlers       []hlist
	configDir      string
	isLocation     bool
	setHandler     *strOrigin
	exts           []extHandler // current AddHandler mappings
	authType       *strOrigin
	authName       *strOrigin
	require        *requireConf
	errorDocs      []errorDoc
	logLevel       *intOrigin
	directoryIndex *strOrigin
}

// apply merges one section into st, the inner section winning.
func (st *mergeState) apply(s *section) {
	if p := s.py; p != nil {
		for _, e := range p.directives {
			st.directives = setKV(st.directives, e)
		}
		for _, e := range p.options {
			st.options = setKV(st.options, e)
		}
		for _, e := range p.session {
			st.session = setKV(st.session, e)
		}
	next:
		for _, h := range p.handlers {
			for i := range st.handlers {
				if st.handlers[i].key == h.key {
					st.handlers[i] = h
					continue next
				}
			}
			st.handlers = append(st.handlers, h)
		}
		if s.kind != kindServer && s.kind != kindVHost {
			st.configDir = p.configDir
			st.isLocation = p.isLocation
		}
	}
	cc := &s.core
	if cc.setHandler != nil {
		st.setHandler = cc.setHandler
	}
	for _, a := range cc.addHandlers {
		st.exts = setExt(st.exts, a)
	}
	for _, r := range cc.removeHandlers {
		for i := range st.exts {
			if st.exts[i].ext == r.ext {
				st.exts = append(st.exts[:i:i], st.exts[i+1:]...)
				break
			}
		}
	}
	if cc.authType != nil {
		st.authType = cc.authType
	}
	if cc.authName != nil {
		st.authName = cc.authName
	}
	if cc.require != nil {
		st.require = cc.require
	}
	if cc.logLevel != nil {
		st.logLevel = cc.logLevel
	}
	if cc.directoryIndex != nil {
		st.directoryIndex = cc.directoryIndex
	}
	for _, e := range cc.errorDocs {
		replaced := false
		for i := range st.errorDocs {
			if st.errorDocs[i].code == e.code {
				st.errorDocs[i] = e
				replaced = true
			}
		}
		if !replaced {
			st.errorDocs = append(st.errorDocs, e)
		}
	}
}

func setExt(list []extHandler, e extHandler) []extHandler {
	for i := range list {
		if list[i].ext == e.ext {
			out := append([]extHandler(nil), list...)
			out[i] = e
			return out
		}
	}
	return append(list[:len(list):len(list)], e)
}

// newCore merges secs on top of v's server-level configuration; bad is
// the .htaccess file that stopped the walk, if any.
func (c *Config) newCore(v *VirtualHost, secs []*section, bad *htFile) *core {
	co := &core{v: v, bad: bad}
	co.secs = append(co.secs, v.base...)
	co.secs = append(co.secs, secs...)
	for _, s := range co.secs {
		co.st.apply(s)
	}
	st := &co.st
	perDirectory := false
	if _, ok := lookupKVO(st.directives, "PythonInterpreter"); !ok {
		if s, _ := lookupKVO(st.directives, "PythonInterpPerDirectory"); s == "1" {
			perDirectory = true
		}
	}
	patternDirs, qualified := false, false
	for _, h := range st.handlers {
		if strings.IndexByte(h.key, '.') >= 0 {
			qualified = true
		}
		for _, e := range h.entries {
			if e.dirKind != dirPlain && !e.isLocation {
				patternDirs = true
			}
		}
	}
	byExt := len(st.exts) > 0 && (st.setHandler == nil || st.setHandler.value == "none")
	co.variant = !st.isLocation && (perDirectory || patternDirs || qualified || byExt)
	if !co.variant {
		co.merged = co.finish("")
	}
	return co
}

func lookupKVO(list []kvo, key string) (string, bool) {
	for _, e := range list {
		if e.key == key {
			return e.value, true
		}
	}
	return "", false
}

// finish builds the Merged for one file name (already "" for a location).
func (co *core) finish(filename string) *Merged {
	st := &co.st
	if st.isLocation {
		filename = ""
	}
	m := &Merged{
		VHost:          co.v,
		Handlers:       make(map[string][]Handler, len(st.handlers)),
		Directives:     toKV(st.directives),
		Options:        toKV(st.options),
		SessionOptions: toKV(st.session),
		IsLocation:     st.isLocation,
		ConfigDir:      st.configDir,
		filename:       filename,
		AutoReload:     true,
		ErrorDocuments: map[int]string{},
		Origins:        map[string]Section{},
		origins:        map[string]origin{},
		early:          co.v.early,
	}
	for _, s := range co.secs {
		m.Sections = append(m.Sections, s.Section)
		if s.kind == kindHtaccess {
			m.htSecs = append(m.htSecs, s)
			m.Htaccess = append(m.Htaccess, s.File)
			m.warnings = append(m.warnings, s.htWarnings...)
		}
	}
	if b := co.bad; b != nil {
		m.Err, m.Status = b.err, b.status
		m.Htaccess = append(m.Htaccess, b.path)
		m.warnings = append(m.warnings, b.warnings...)
	}
	m.Ifs = ifResults(co.v, co.secs)
	note := func(key string, sec *section, file string, line int) {
		m.Origins[key] = sec.Section
		m.origins[key] = origin{sec: sec, file: file, line: line}
	}
	for _, e := range st.directives {
		note(e.key, e.sec, e.file, e.line)
		switch e.key {
		case "PythonPath":
			m.PythonPath = e.value
		case "PythonDebug":
			m.Debug = e.value == "1"
		case "PythonAutoReload":
			m.AutoReload = e.value != "0"
		}
	}
	for _, e := range st.options {
		note("PythonOption "+e.key, e.sec, e.file, e.line)
	}
	for _, e := range st.session {
		note("PythonSessionOptions "+e.key, e.sec, e.file, e.line)
	}
	for _, h := range st.handlers {
		if strings.IndexByte(h.key, '.') >= 0 {
			m.Extension = extensionOf(filename)
		}
		hs := make([]Handler, len(h.entries))
		for i, e := range h.entries {
			hs[i] = Handler{
				Handler:    e.handler,
				Directory:  resolveDirectory(e, filename),
				IsLocation: e.isLocation,
				Silent:     e.silent,
				File:       e.file,
				Line:       e.line,
			}
		}
		m.Handlers[h.key] = hs
		note(h.key, h.entries[0].sec, h.entries[0].file, h.entries[0].line)
	}
	if sh := st.setHandler; sh != nil {
		note("SetHandler", sh.sec, sh.file, sh.line)
		if sh.value != "none" {
			m.Handler = sh.value
			m.handlerFrom = "SetHandler"
		}
	}
	if m.handlerFrom == "" && filename != "" {
		if e, ok := handlerByExtension(st.exts, filename); ok {
			m.Handler = e.handler
			m.handlerFrom = "AddHandler " + e.ext
			note(m.handlerFrom, e.sec, e.file, e.line)
		}
	}
	for _, e := range st.exts {
		if e.handler == "mod_python" || e.handler == "python-program" {
			m.AddHandlerExts = append(m.AddHandlerExts, e.ext)
		}
	}
	if a := st.authType; a != nil {
		note("AuthType", a.sec, a.file, a.line)
		if !strings.EqualFold(a.value, "none") {
			m.AuthType = a.value
		}
	}
	if a := st.authName; a != nil {
		note("AuthName", a.sec, a.file, a.line)
		m.AuthName = a.value
	}
	if rc := st.require; rc != nil {
		note("Require", rc.sec, rc.file, rc.line)
		m.Require = rc.lines
		m.AuthRequired = rc.needsUser
	}
	m.DirectoryIndex = "index.html"
	if d := st.directoryIndex; d != nil {
		note("DirectoryIndex", d.sec, d.file, d.line)
		m.DirectoryIndex = d.value
	}
	m.LogLevel = co.v.LogLevel
	if l := st.logLevel; l != nil {
		m.LogLevel = l.value
	}
	for _, e := range st.errorDocs {
		if e.text == "default" {
			continue
		}
		m.ErrorDocuments[e.code] = e.text
		note("ErrorDocument "+strconv.Itoa(e.code), e.sec, e.file, e.line)
	}
	_, m.Interpreter = m.Phase("PythonHandler")
	return m
}

// extensionOf is how python_handler derives req.extension: everything from
// the first '.' of the base name, '.' included.
func extensionOf(filename string) string {
	if filename == "" {
		return ""
	}
	base := filename[strings.LastIndexByte(filename, '/')+1:]
	if i := strings.IndexByte(base, '.'); i >= 0 && i+1 < len(base) {
		return base[i:]
	}
	return ""
}

// handlerByExtension is mod_mime's find_ct for handlers: every '.'-separated
// part after the base name (leading dots belong to it) is looked up in lower
// case; the last one with a handler wins.
func handlerByExtension(exts []extHandler, filename string) (extHandler, bool) {
	fn := filename[strings.LastIndexByte(filename, '/')+1:]
	i := 0
	for i < len(fn) && fn[i] == '.' {
		i++
	}
	j := strings.IndexByte(fn[i:], '.')
	if j < 0 {
		return extHandler{}, false
	}
	fn = fn[i+j+1:]
	var found extHandler
	ok := false
	for fn != "" {
		part := fn
		if k := strings.IndexByte(fn, '.'); k >= 0 {
			part, fn = fn[:k], fn[k+1:]
		} else {
			fn = ""
		}
		if part == "" {
			continue
		}
		for _, e := range exts {
			if strings.EqualFold(e.ext, part) {
				found, ok = e, true
				break
			}
		}
	}
	return found, ok
}

// resolveDirectory is mod_python's resolve_directory: a wildcard or regex
// <Directory> becomes the shortest prefix of the file name that matches it,
// with a trailing '/'; without a file name, or without a match, the pattern
// itself is kept.
func resolveDirectory(e handlerDef, filename string) string {
	if e.dirKind == dirPlain || e.isLocation || filename == "" {
		return e.dir
	}
	match := func(p string) bool {
		if e.dirKind == dirFnmatch {
			return fnmatch(e.dir, p, fnmPathname)
		}
		return e.re.MatchString(p)
	}
	dirs := strings.Count(filename, "/") + 1
	for i := 0; i <= dirs; i++ {
		prefix := dirPrefix(filename, i)
		if match(prefix) {
			return prefix
		}
		if prefix != "/" && match(prefix[:len(prefix)-1]) {
			return prefix
		}
	}
	return e.dir
}

// dirPrefix is ap_make_dirstr_prefix: the first n '/'-terminated components,
// or the whole name with '/' appended when it has fewer.
func dirPrefix(s string, n int) string {
	if n < 1 {
		return "/"
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			n--
			if n == 0 {
				return s[:i+1]
			}
		}
	}
	return s + "/"
}

// newServerLevel merges v's configuration before any section: what the
// phases before URI translation see.
func newServerLevel(v *VirtualHost) *serverLevel {
	var st mergeState
	for _, s := range v.base {
		st.apply(s)
	}
	sl := &serverLevel{handlers: map[string][]Handler{}, directives: toKV(st.directives)}
	for _, h := range st.handlers {
		hs := make([]Handler, len(h.entries))
		for i, e := range h.entries {
			hs[i] = Handler{Handler: e.handler, Directory: e.dir, Silent: e.silent, File: e.file, Line: e.line}
		}
		sl.handlers[h.key] = hs
	}
	return sl
}

// IfResult is what the if walk made of one <If>, <ElseIf> or <Else>.
type IfResult struct {
	Section Section
	// Result is "applied", "false", "skipped" (an earlier one of the
	// chain applied) or "not evaluated: REASON" (the condition is outside
	// what mpgate evaluates; the section never applies).
	Result string
}

// ifResults reconstructs the if walk over secs (base sections first, the
// <If> sections that applied among them) for Explain.
func ifResults(v *VirtualHost, secs []*section) []IfResult {
	applied := map[*section]bool{}
	for _, s := range secs {
		if s.kind == kindIf {
			applied[s] = true
		}
	}
	var out []IfResult
	var walk func(owners []*section)
	walk = func(owners []*section) {
		var next []*section
		for _, o := range owners {
			done, why := false, ""
			for _, s := range o.ifs {
				if !s.isElse {
					done, why = false, ""
				}
				r := ""
				switch {
				case done:
					r = why
				case applied[s]:
					r = "applied"
					done, why = true, "skipped (an earlier section of the chain applied)"
					next = append(next, s)
				case s.Kind != "Else" && s.cond == nil:
					r = "not evaluated: " + s.condErr
					done, why = true, "skipped (an earlier condition of the chain was not evaluated)"
				default:
					r = "false"
				}
				out = append(out, IfResult{Section: s.Section, Result: r})
			}
		}
		if len(next) > 0 {
			walk(next)
		}
	}
	var owners []*section
	for _, s := range secs {
		if s.kind != kindIf {
			owners = append(owners, s)
		}
	}
	walk(owners)
	return out
}
