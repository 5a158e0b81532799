// This file turns the directive tree into servers and sections, applying
// each directive the way its Apache or mod_python handler would, with the
// same context checks (core.c ap_check_cmd_context and the override mask of
// config.c invoke_cmd; mod_python.c python_commands).

package config

import (
	"errors"
	"fmt"
	"net/netip"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

type sectionKind uint8

const (
	kindServer        sectionKind = iota // main server body
	kindVHost                            // <VirtualHost> body
	kindDir                              // <Directory path>, wildcards allowed
	kindDirMatch                         // <DirectoryMatch re>, <Directory ~ re>
	kindLocation                         // <Location path>, wildcards allowed
	kindLocationMatch                    // <LocationMatch re>, <Location ~ re>
	kindFiles                            // <Files name>, wildcards allowed
	kindFilesMatch                       // <FilesMatch re>, <Files ~ re>
	kindIf                               // <If>, <ElseIf>, <Else>: applied by the if walk when the condition can be evaluated
	kindHtaccess                         // a .htaccess file, merged in the directory walk
)

// The override bits of Apache's command table (http_config.h): which
// AllowOverride class a directive needs in a .htaccess file.
const (
	orLimit          uint16 = 1
	orOptions        uint16 = 2
	orFileInfo       uint16 = 4
	orAuthCfg        uint16 = 8
	orIndexes        uint16 = 16
	orUnset          uint16 = 32 // AllowOverride not set: .htaccess files are still read, and allow nothing
	orAll                   = orLimit | orOptions | orFileInfo | orAuthCfg | orIndexes
	nonfatalOverride uint16 = 512  // AllowOverride Nonfatal=Override: a forbidden directive is skipped with a warning
	nonfatalUnknown  uint16 = 1024 // Nonfatal=Unknown
)

// Section names one configuration section for explanations.
type Section struct {
	Kind string // "server", "VirtualHost", "Directory", "DirectoryMatch", "Location", "LocationMatch", "Files", "FilesMatch", "If", "ElseIf", "Else", ".htaccess"
	Arg  string // the section's argument as written, without the closing '>'; a .htaccess file's directory
	File string
	Line int // 0 for the main server
}

func (s Section) String() string {
	var where string
	if s.Line > 0 {
		where = fmt.Sprintf("%s:%d", s.File, s.Line)
	} else {
		where = s.File
	}
	switch {
	case s.Kind == "server":
		return "main server " + where
	case s.Kind == ".htaccess":
		return ".htaccess " + s.File
	case s.Arg == "":
		return fmt.Sprintf("<%s> %s", s.Kind, where)
	}
	return fmt.Sprintf("<%s %s> %s", s.Kind, s.Arg, where)
}

// section is a Section with what matching and merging need.
type section struct {
	Section
	idx        int // position in Config.sections
	kind       sectionKind
	path       string         // match text: canonical directory with '/', location, file name, or the regex
	re         *regexp.Regexp // for the *Match kinds
	fnmatch    bool           // path has wildcards
	components int            // ap_count_dirs of path; 0 for <Directory />
	files      []*section     // <Files> nested in this <Directory>
	py         *pyConf        // nil when no mod_python directive appeared (no module config vector)
	core       coreConf
	lines      []srcDirective // Python and handler directives as written, for Check
	server     *VirtualHost   // whose configuration it belongs to
	parent     *section       // the <Directory> or <Files> a nested section sits in
	key        uint64         // identifies the section in Lookup's cache keys: idx, or a fresh number for a .htaccess section
	ifs        []*section     // the <If>, <ElseIf>, <Else> sections directly inside, in file order (core's sec_if)
	cond       cond           // an <If>/<ElseIf> condition; nil when it cannot be evaluated, or for <Else>
	condErr    string         // why cond is nil
	isElse     bool           // <ElseIf> or <Else>: skipped when the previous one in the chain applied
	htWarnings []Warning      // for a .htaccess section: its file's warnings
}

// srcDirective is a directive as written, for Check.
type srcDirective struct {
	name, args string
	file       string
	line       int
}

// pyConf is mod_python's py_config for one section.
type pyConf struct {
	directives []kvo // apr_table_set semantics: one entry per key
	options    []kvo
	session    []kvo   // PythonSessionOptions
	handlers   []hlist // in order of first appearance
	configDir  string  // cmd->path of the section; "" for a server body
	isLocation bool    // d_is_location, set by handler directives
}

// kvo is a key and value with the directive that set it.
type kvo struct {
	key, value string
	file       string
	line       int
	sec        *section
}

// setKV is apr_table_set on a copy-on-write list: keys compare without
// regard to case, the first spelling stays, the value and origin change.
func setKV(list []kvo, e kvo) []kvo {
	for i := range list {
		if strings.EqualFold(list[i].key, e.key) {
			out := append([]kvo(nil), list...)
			e.key = list[i].key
			out[i] = e
			return out
		}
	}
	return append(list[:len(list):len(list)], e)
}

// hlist is the handler list of one key ("PythonHandler", "PythonHandler.py").
type hlist struct {
	key     string
	entries []handlerDef
}

// dirKind says how a handler's directory is resolved at request time.
type dirKind uint8

const (
	dirPlain   dirKind = iota // used as is (or None when empty)
	dirFnmatch                // <Directory> with wildcards: resolved against the file name
	dirRegex                  // <DirectoryMatch>, <Directory ~>: resolved likewise
)

// handlerDef is one hl_entry as mod_python records it at configuration time.
type handlerDef struct {
	handler    string
	dir        string // hlist.directory, or its pattern
	dirKind    dirKind
	re         *regexp.Regexp
	isLocation bool
	silent     bool
	file       string
	line       int
	sec        *section
}

// coreConf holds the non-Python per-section settings a request needs.
type coreConf struct {
	setHandler     *strOrigin
	addHandlers    []extHandler // AddHandler, lower-cased extension without '.'
	removeHandlers []extHandler // RemoveHandler, extension as written without '.'
	authType       *strOrigin
	authName       *strOrigin
	require        *requireConf // the section's Require lines, <RequireAll/Any/None> included
	errorDocs      []errorDoc
	allowOverride  []string
	override       uint16   // AllowOverride as bits; orUnset when the section has none
	overrideList   []string // AllowOverrideList names; nil when the section has none ("None" gives an empty, non-nil list)
	directoryIndex *strOrigin
	logLevel       *intOrigin // LogLevel's plain level in a section
}

type strOrigin struct {
	value string
	file  string
	line  int
	sec   *section
}

type extHandler struct {
	ext, handler string
	file         string
	line         int
	sec          *section
}

type errorDoc struct {
	code int
	text string // "default" resets
	file string
	line int
	sec  *section
}

// builder walks the tree once.
type builder struct {
	c        *Config
	r        *reader
	mainFile string
	mainPort int  // from the main ServerName, inherited by <VirtualHost> addresses without one
	dynamic  bool // building a .htaccess file: sections get fresh cache keys
}

// walkCtx is where a directive sits.
type walkCtx struct {
	srv     *VirtualHost
	sec     *section // innermost Directory/Location/Files/If section; nil in a server body
	dirSec  *section // enclosing <Directory>/<DirectoryMatch>
	locSec  *section // enclosing <Location>/<LocationMatch>
	inFiles bool
	inIf    bool
	limited bool   // inside <Limit>/<LimitExcept>
	parent  string // the enclosing section as Apache names it in messages ("<Directory>"); "" at top level
	ht      *htCtx // inside a .htaccess file
}

// htCtx is what a .htaccess file is read with: the AllowOverride and
// AllowOverrideList in effect for its directory.
type htCtx struct {
	override uint16
	list     []string
}

// listed reports whether AllowOverrideList names the directive.
func (h *htCtx) listed(name string) bool {
	for _, l := range h.list {
		if strings.EqualFold(l, name) {
			return true
		}
	}
	return false
}

// target is the section a directive in ctx configures.
func (ctx *walkCtx) target() *section {
	if ctx.sec != nil {
		return ctx.sec
	}
	return ctx.srv.body
}

func build(mainFile string, tree []*node, r *reader) *Config {
	c := &Config{}
	b := &builder{c: c, r: r, mainFile: mainFile}
	c.main = &VirtualHost{File: mainFile}
	initMainFacts(c.main)
	c.main.body = b.newSection(kindServer, "server", "", mainFile, 0)
	c.main.body.server = c.main
	b.walk(tree, walkCtx{srv: c.main})
	b.finish()
	// Reading and building report separately; show both in reading order.
	sort.SliceStable(r.errs, func(i, j int) bool { return r.errs[i].seq < r.errs[j].seq })
	sort.SliceStable(r.warns, func(i, j int) bool { return r.warns[i].seq < r.warns[j].seq })
	c.Warnings = r.warns
	c.Errors = r.errs
	return c
}

func (b *builder) errorf(n *node, directive, format string, args ...any) {
	b.r.errorAt(n.seq, n.file, n.line, directive, format, args...)
}

func (b *builder) warnf(n *node, directive, format string, args ...any) {
	b.r.warnAt(n.seq, n.file, n.line, directive, format, args...)
}

func (b *builder) newSection(kind sectionKind, kindName, arg, file string, line int) *section {
	s := &section{Section: Section{Kind: kindName, Arg: arg, File: file, Line: line}, idx: len(b.c.sections), kind: kind}
	s.key = uint64(s.idx)
	if b.dynamic {
		s.key = nextDynamicKey.Add(1)
	}
	s.core.override = orUnset
	b.c.sections = append(b.c.sections, s)
	return s
}

func (b *builder) walk(nodes []*node, ctx walkCtx) {
	for _, n := range nodes {
		if b.r.stopped {
			return
		}
		lname := strings.ToLower(n.name)
		if n.section {
			if ctx.ht != nil {
				switch lname {
				case "virtualhost", "directory", "directorymatch", "location", "locationmatch":
					b.errorf(n, "<"+canonicalSection(n.name), "not allowed here")
					return
				}
			}
			switch lname {
			case "virtualhost":
				b.virtualHost(n, ctx)
			case "directory", "directorymatch", "location", "locationmatch":
				b.pathSection(n, lname, ctx)
			case "files", "filesmatch":
				b.filesSection(n, lname, ctx)
			case "if", "elseif", "else":
				b.ifSection(n, lname, ctx)
			case "requireall", "requireany", "requirenone":
				b.requireBlock(n, ctx)
			case "limit", "limitexcept":
				if n.args == "" {
					b.errorf(n, "<"+canonicalSection(n.name)+">", "requires additional arguments")
					continue
				}
				inner := ctx
				inner.limited = true
				inner.parent = "<" + canonicalSection(n.name) + ">"
				b.walk(n.children, inner)
			default:
				// Another module's section (<Proxy>, <RequireAll>, <Macro>, ...):
				// kept in the tree, nothing in it concerns mod_python.
			}
			continue
		}
		if d, ok := knownDirectives[lname]; ok && d.apply != nil {
			if b.allowed(d, n, ctx) {
				d.apply(b, d, n, &ctx)
			}
			continue
		}
		if lname == "use" {
			b.warnf(n, "Use", "mod_macro is not expanded; directives from the macro are not seen")
		}
	}
}

// Directive contexts, as the override bits of Apache's command table.
type dirContext uint8

const (
	ctxRSRC       dirContext = iota // RSRC_CONF: server and <VirtualHost> bodies
	ctxAll                          // OR_ALL, OR_FILEINFO, ...: anywhere in the main configuration
	ctxRSRCAccess                   // RSRC_CONF|ACCESS_CONF: anywhere in the main configuration
	ctxAccess                       // ACCESS_CONF: inside sections only
	ctxAuthCfg                      // OR_AUTHCFG: inside sections only (the server override lacks it)
)

// allowed is invoke_cmd's override test: "X not allowed here".
func (b *builder) allowed(d *directiveDef, n *node, ctx walkCtx) bool {
	if h := ctx.ht; h != nil {
		if d.override&h.override != 0 || h.listed(d.name) {
			return true
		}
		switch {
		case h.override&nonfatalOverride != 0:
			b.warnf(n, d.name, "in .htaccess forbidden by AllowOverride; ignored (Nonfatal=Override)")
		case ctx.parent != "":
			b.errorf(n, d.name, "not allowed in %s context", ctx.parent)
		default:
			b.errorf(n, d.name, "not allowed here")
		}
		return false
	}
	ok := true
	switch d.ctx {
	case ctxRSRC:
		ok = ctx.sec == nil
	case ctxAccess, ctxAuthCfg:
		ok = ctx.sec != nil
	}
	if !ok {
		if ctx.parent != "" {
			b.errorf(n, d.name, "not allowed in %s context", ctx.parent)
		} else {
			b.errorf(n, d.name, "not allowed here")
		}
	}
	return ok
}

// directiveDef describes a directive this package applies.
type directiveDef struct {
	name     string // Apache's spelling
	ctx      dirContext
	override uint16 // the AllowOverride classes that allow it in .htaccess; 0: never
	apply    func(b *builder, d *directiveDef, n *node, ctx *walkCtx)
}

// knownDirectives are the directives this package understands, by lower-cased
// name. Entries without apply are executed while reading (read.go).
var knownDirectives map[string]*directiveDef

// knownSections are the sections this package understands.
var knownSections = map[string]bool{
	"virtualhost": true, "directory": true, "directorymatch": true, "location": true,
	"locationmatch": true, "files": true, "filesmatch": true, "if": true, "elseif": true,
	"else": true, "limit": true, "limitexcept": true, "ifmodule": true, "ifdefine": true,
	"ifversion": true, "iffile": true, "ifdirective": true, "ifsection": true,
}

// handlerPhases are the per-request handler directives, in the order
// mod_python's PythonHandlerModule registers them.
var handlerPhases = []string{
	"PythonPostReadRequestHandler", "PythonTransHandler", "PythonHeaderParserHandler",
	"PythonAccessHandler", "PythonAuthenHandler", "PythonAuthzHandler",
	"PythonTypeHandler", "PythonFixupHandler", "PythonHandler", "PythonInitHandler",
	"PythonLogHandler", "PythonCleanupHandler",
}

// serverDuplicated are the directives mod_python also writes into the
// server config when they appear outside any section (mod_python.md §1.4).
var serverDuplicated = map[string]bool{
	"PythonPath": true, "PythonInterpreter": true, "PythonDebug": true,
	"PythonEnablePdb": true, "PythonInterpPerDirective": true, "PythonAutoReload": true,
}

func init() {
	knownDirectives = map[string]*directiveDef{}
	add := func(name string, ctx dirContext, apply func(*builder, *directiveDef, *node, *walkCtx)) {
		d := &directiveDef{name: name, ctx: ctx, apply: apply}
		if ctx == ctxAll {
			d.override = orAll
		}
		knownDirectives[strings.ToLower(name)] = d
	}
	for _, p := range handlerPhases {
		ctx := ctxAll
		if p == "PythonPostReadRequestHandler" || p == "PythonTransHandler" {
			ctx = ctxRSRC
		}
		add(p, ctx, (*builder).handlerDirective)
	}
	add("PythonHandlerModule", ctxAll, (*builder).handlerDirective)
	add("PythonConnectionHandler", ctxRSRC, (*builder).unsupported)
	add("PythonInputFilter", ctxRSRCAccess, (*builder).unsupported)
	add("PythonOutputFilter", ctxRSRCAccess, (*builder).unsupported)
	add("PythonImport", ctxRSRC, (*builder).pythonImport)
	add("PythonPath", ctxAll, (*builder).take1Directive)
	add("PythonInterpreter", ctxAll, (*builder).take1Directive)
	for _, f := range []string{"PythonDebug", "PythonAutoReload", "PythonInterpPerDirectory", "PythonInterpPerDirective", "PythonEnablePdb"} {
		add(f, ctxAll, (*builder).flagDirective)
	}
	add("PythonOptimize", ctxRSRC, (*builder).flagDirective)
	add("PythonOption", ctxAll, (*builder).pythonOption)
	add("PythonSessionOptions", ctxAll, (*builder).pythonSessionOptions)

	add("ServerName", ctxRSRC, (*builder).serverName)
	add("ServerAlias", ctxRSRC, (*builder).serverAlias)
	add("ServerAdmin", ctxRSRC, (*builder).serverString)
	add("DocumentRoot", ctxRSRC, (*builder).serverString)
	add("Listen", ctxRSRC, (*builder).listen)
	add("Alias", ctxAll, (*builder).alias)
	add("AliasMatch", ctxRSRC, (*builder).alias)
	add("AddHandler", ctxAll, (*builder).addHandler)
	add("SetHandler", ctxAll, (*builder).setHandler)
	add("RemoveHandler", ctxAll, (*builder).removeHandler)
	add("AuthType", ctxAuthCfg, (*builder).authString)
	add("AuthName", ctxAuthCfg, (*builder).authString)
	add("Require", ctxAuthCfg, (*builder).require)
	add("ErrorDocument", ctxAll, (*builder).errorDocument)
	add("AllowOverride", ctxAccess, (*builder).allowOverride)
	add("AllowOverrideList", ctxAccess, (*builder).allowOverrideList)
	add("AccessFileName", ctxRSRC, (*builder).accessFileName)
	add("DirectoryIndex", ctxAll, (*builder).directoryIndex)
	add("ServerSignature", ctxAll, (*builder).serverSignature)
	add("Error", ctxAll, (*builder).errorDirective)
	add("LogLevel", ctxRSRCAccess, (*builder).logLevel)
	for _, name := range []string{"Timeout", "KeepAlive", "KeepAliveTimeout", "MaxKeepAliveRequests", "ServerPath",
		"ErrorLog", "LimitRequestLine", "LimitRequestFieldSize", "LimitRequestFields"} {
		add(name, ctxRSRC, (*builder).serverFact)
	}
	for _, name := range []string{"Include", "IncludeOptional", "Define", "UnDefine", "ServerRoot", "LoadModule"} {
		knownDirectives[strings.ToLower(name)] = &directiveDef{name: name}
	}
	// The classes of the directives that need one class, not any
	// (mod_mime, core, mod_authn_core, mod_authz_core, mod_dir command tables).
	for name, or := range map[string]uint16{
		"AddHandler": orFileInfo, "RemoveHandler": orFileInfo, "SetHandler": orFileInfo,
		"ErrorDocument": orFileInfo, "AuthType": orAuthCfg, "AuthName": orAuthCfg,
		"Require": orAuthCfg, "DirectoryIndex": orIndexes,
		"Alias": 0, // RSRC_CONF|ACCESS_CONF: never in .htaccess
	} {
		knownDirectives[strings.ToLower(name)].override = or
	}
}

// defaultAdmin is httpd's DEFAULT_ADMIN: server_admin of a configuration
// without ServerAdmin, which its virtual hosts inherit.
const defaultAdmin = "[no address given]"

// canonicalSection spells a section name as Apache does.
func canonicalSection(name string) string {
	switch strings.ToLower(name) {
	case "virtualhost":
		return "VirtualHost"
	case "directory":
		return "Directory"
	case "directorymatch":
		return "DirectoryMatch"
	case "location":
		return "Location"
	case "locationmatch":
		return "LocationMatch"
	case "files":
		return "Files"
	case "filesmatch":
		return "FilesMatch"
	case "if":
		return "If"
	case "elseif":
		return "ElseIf"
	case "else":
		return "Else"
	case "limit":
		return "Limit"
	case "limitexcept":
		return "LimitExcept"
	case "ifmodule":
		return "IfModule"
	case "ifdefine":
		return "IfDefine"
	case "ifversion":
		return "IfVersion"
	case "iffile":
		return "IfFile"
	case "ifdirective":
		return "IfDirective"
	case "ifsection":
		return "IfSection"
	}
	return name
}

// sectionContextError is ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT) for a
// section opening inside ctx.
func sectionContextError(ctx walkCtx) string {
	if ctx.limited {
		return "cannot occur within <Limit> or <LimitExcept> section"
	}
	if ctx.sec != nil {
		return "cannot occur within directory context"
	}
	return ""
}

func (b *builder) virtualHost(n *node, ctx walkCtx) {
	const name = "<VirtualHost>"
	switch {
	case ctx.srv.IsVirtual:
		b.errorf(n, name, "cannot occur within <VirtualHost> section")
		return
	case sectionContextError(ctx) != "":
		b.errorf(n, name, "%s", sectionContextError(ctx))
		return
	case n.args == "":
		b.errorf(n, name, "requires additional arguments")
		return
	}
	v := &VirtualHost{File: n.file, Line: n.line, IsVirtual: true, index: len(b.c.vhosts) + 1}
	v.id = fmt.Sprintf("%s:%d", n.file, n.line)
	newVHostFacts(v, b.c.main)
	v.body = b.newSection(kindVHost, "VirtualHost", n.args, n.file, n.line)
	v.body.server = v
	for _, w := range words(n.args) {
		a, err := parseVHostAddr(w, b.mainPort)
		if err != nil {
			b.errorf(n, name, "%v", err)
			return
		}
		if a.unresolved {
			b.warnf(n, name, "address %s is a host name; mpgate does not resolve names, so it never matches by address", w)
		}
		v.Addrs = append(v.Addrs, w)
		v.addrs = append(v.addrs, a)
	}
	b.c.vhosts = append(b.c.vhosts, v)
	b.walk(n.children, walkCtx{srv: v, parent: name})
}

// pathSection handles <Directory>, <DirectoryMatch>, <Location> and
// <LocationMatch> (core.c dirsection, urlsection).
func (b *builder) pathSection(n *node, lname string, ctx walkCtx) {
	display := "<" + canonicalSection(n.name) + ">"
	if msg := sectionContextError(ctx); msg != "" {
		b.errorf(n, display, "%s", msg)
		return
	}
	if n.args == "" {
		b.errorf(n, display, "requires additional arguments")
		return
	}
	isDir := strings.HasPrefix(lname, "directory")
	arg, rest := getwordConf(n.args)
	regex := strings.HasSuffix(lname, "match")
	if arg == "~" {
		regex = true
		arg, rest = getwordConf(rest)
	}
	if rest != "" {
		b.errorf(n, display, "multiple arguments not (yet) supported")
		return
	}
	var s *section
	switch {
	case isDir && regex:
		s = b.newSection(kindDirMatch, canonicalSection(n.name), n.args, n.file, n.line)
	case isDir:
		s = b.newSection(kindDir, canonicalSection(n.name), n.args, n.file, n.line)
	case regex:
		s = b.newSection(kindLocationMatch, canonicalSection(n.name), n.args, n.file, n.line)
	default:
		s = b.newSection(kindLocation, canonicalSection(n.name), n.args, n.file, n.line)
	}
	s.server = ctx.srv
	s.path = arg
	if regex {
		re, err := compileRegex(arg)
		if err != nil {
			b.errorf(n, display, "regex could not be compiled: %v", err)
			return
		}
		s.re = re
	} else if isDir && arg != "/" {
		s.path = canonicalDir(arg)
	}
	s.fnmatch = !regex && fnmatchTest(s.path)
	if isDir {
		// "/" has no components: it is merged first, always (dirsection).
		if s.path != "/" || regex {
			s.components = strings.Count(s.path, "/")
		}
	}
	inner := walkCtx{srv: ctx.srv, sec: s, parent: display}
	if isDir {
		inner.dirSec = s
		ctx.srv.ownDirs = append(ctx.srv.ownDirs, s)
	} else {
		inner.locSec = s
		ctx.srv.ownLocs = append(ctx.srv.ownLocs, s)
	}
	b.walk(n.children, inner)
}

// canonicalDir is dirsection's apr_filepath_merge plus trailing '/': a
// relative path is taken from "/", the working directory of a daemon.
func canonicalDir(p string) string {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	p = path.Clean(p)
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

// filesSection handles <Files> and <FilesMatch> (core.c filesection).
func (b *builder) filesSection(n *node, lname string, ctx walkCtx) {
	display := "<" + canonicalSection(n.name) + ">"
	switch {
	case ctx.limited:
		b.errorf(n, display, "cannot occur within <Limit> or <LimitExcept> section")
		return
	case ctx.locSec != nil:
		b.errorf(n, display, "cannot occur within <%s> section", canonicalSection(ctx.locSec.Kind))
		return
	case n.args == "":
		b.errorf(n, display, "requires additional arguments")
		return
	}
	arg, rest := getwordConf(n.args)
	regex := lname == "filesmatch"
	if arg == "~" {
		regex = true
		arg, rest = getwordConf(rest)
	}
	if rest != "" {
		b.errorf(n, display, "multiple arguments not (yet) supported")
		return
	}
	kind := kindFiles
	if regex {
		kind = kindFilesMatch
	}
	s := b.newSection(kind, canonicalSection(n.name), n.args, n.file, n.line)
	s.server = ctx.srv
	s.parent = ctx.sec
	s.path = arg
	if regex {
		re, err := compileRegex(arg)
		if err != nil {
			b.errorf(n, display, "regex could not be compiled: %v", err)
			return
		}
		s.re = re
	} else if arg != "" {
		s.path = path.Clean(arg)
		s.fnmatch = fnmatchTest(s.path)
	}
	switch {
	case ctx.inIf:
		b.warnf(n, display, "a <Files> section inside <If> never applies (the file walk runs before the if walk)")
	case ctx.inFiles:
		b.warnf(n, display, "a <Files> section inside another never applies (Apache's file walk only looks at the outer level)")
	case ctx.dirSec != nil:
		ctx.dirSec.files = append(ctx.dirSec.files, s)
	default:
		ctx.srv.ownFiles = append(ctx.srv.ownFiles, s)
	}
	inner := ctx
	inner.sec = s
	inner.inFiles = true
	inner.parent = display
	b.walk(n.children, inner)
}

// ifSection reads <If>, <ElseIf> and <Else> (core.c ifsection). The
// section joins the enclosing section's if list, which the if walk
// evaluates after the location walk; a condition outside the subset
// expr.go evaluates makes the section never apply, with a warning.
func (b *builder) ifSection(n *node, lname string, ctx walkCtx) {
	display := "<" + canonicalSection(n.name) + ">"
	if ctx.limited {
		b.errorf(n, display, "cannot occur within <Limit> or <LimitExcept> section")
		return
	}
	if lname == "else" && n.args != "" {
		b.errorf(n, display, "does not take an argument")
		return
	}
	if lname != "else" && n.args == "" {
		b.errorf(n, display, "requires additional arguments")
		return
	}
	owner := ctx.target()
	if lname != "if" {
		if len(owner.ifs) == 0 || owner.ifs[len(owner.ifs)-1].Kind == "Else" {
			b.errorf(n, display, "<Else> or <ElseIf> section without previous <If> or <ElseIf> section in same scope")
			return
		}
	}
	s := b.newSection(kindIf, canonicalSection(n.name), n.args, n.file, n.line)
	s.server = ctx.srv
	s.parent = ctx.sec
	s.isElse = lname != "if"
	if lname != "else" {
		text, _ := getwordConf(n.args)
		c, err := parseExpr(text)
		if err != nil {
			s.condErr = err.Error()
			b.warnf(n, display, "condition not evaluated (%v); the directives inside never apply", err)
		}
		s.cond = c
	}
	owner.ifs = append(owner.ifs, s)
	inner := ctx
	inner.sec = s
	inner.inIf = true
	inner.parent = display
	b.walk(n.children, inner)
}

func (b *builder) record(ctx *walkCtx, d *directiveDef, n *node) {
	t := ctx.target()
	t.lines = append(t.lines, srcDirective{name: d.name, args: n.args, file: n.file, line: n.line})
}

// py returns the mod_python config of ctx's section, creating it the way
// ap_set_config_vectors does on a section's first mod_python directive.
func (b *builder) py(ctx *walkCtx) *pyConf {
	t := ctx.target()
	if t.py == nil {
		t.py = &pyConf{}
		switch {
		case ctx.sec != nil && ctx.sec.kind == kindIf:
			t.py.configDir = "*If" // core.c ifsection's cmd->path
		case ctx.sec != nil:
			t.py.configDir = t.path
		}
	}
	return t.py
}

// handlerContext is mod_python's determine_context: where a handler
// directive's hlist.directory comes from.
func handlerContext(ctx *walkCtx) (dir string, kind dirKind, re *regexp.Regexp, isLocation bool) {
	switch {
	case ctx.locSec != nil:
		return ctx.locSec.path, dirPlain, nil, true
	case ctx.dirSec != nil:
		d := ctx.dirSec
		if d.re != nil {
			return d.path, dirRegex, d.re, false
		}
		if d.fnmatch {
			// mod_python keeps the word as written, without canonicalising.
			w, rest := getwordConf(d.Arg)
			if w == "~" {
				w, _ = getwordConf(rest)
			}
			return w, dirFnmatch, nil, false
		}
		return d.path, dirPlain, nil, false
	}
	return "", dirPlain, nil, false
}

// handlerDirective is python_directive_handler (and PythonHandlerModule,
// which registers a silent entry for every request phase).
func (b *builder) handlerDirective(d *directiveDef, n *node, ctx *walkCtx) {
	if (d.name == "PythonPostReadRequestHandler" || d.name == "PythonTransHandler") && strings.IndexByte(n.args, '|') >= 0 {
		b.errorf(n, d.name, `does not accept "| .ext" syntax`)
		return
	}
	if trimSpace(n.args) == "" {
		b.warnf(n, d.name, "no handler given; nothing is registered")
	}
	b.record(ctx, d, n)
	conf := b.py(ctx)
	dir, kind, re, isLoc := handlerContext(ctx)
	conf.isLocation = isLoc
	phases := []string{d.name}
	silent := false
	if d.name == "PythonHandlerModule" {
		phases, silent = handlerPhases, true
	}
	val, exts, hasBar := strings.Cut(n.args, "|")
	for _, phase := range phases {
		keys := []string{phase}
		if hasBar && trimSpace(exts) != "" {
			keys = keys[:0]
			for _, e := range strings.Fields(exts) {
				keys = append(keys, phase+e)
			}
		}
		for _, key := range keys {
			for _, h := range strings.Fields(val) {
				conf.appendHandler(key, handlerDef{
					handler: h, dir: dir, dirKind: kind, re: re, isLocation: isLoc,
					silent: silent, file: n.file, line: n.line, sec: ctx.target(),
				})
			}
		}
	}
}

func (p *pyConf) appendHandler(key string, h handlerDef) {
	for i := range p.handlers {
		if p.handlers[i].key == key {
			p.handlers[i].entries = append(p.handlers[i].entries, h)
			return
		}
	}
	p.handlers = append(p.handlers, hlist{key: key, entries: []handlerDef{h}})
}

// unsupported handles the directives that need Apache's connection or
// filter machinery, which a FastCGI backend never sees.
func (b *builder) unsupported(d *directiveDef, n *node, ctx *walkCtx) {
	ws := words(n.args)
	if d.ctx == ctxRSRCAccess && (len(ws) < 1 || len(ws) > 2) {
		b.errorf(n, d.name, "takes 1-2 arguments")
		return
	}
	b.record(ctx, d, n)
	if ctx.sec != nil {
		b.py(ctx) // the section now has a mod_python config, which matters to the merge
	}
	b.warnf(n, d.name, "cannot be honoured behind FastCGI; ignored")
}

func (b *builder) pythonImport(d *directiveDef, n *node, ctx *walkCtx) {
	ws := words(n.args)
	if len(ws) != 2 || ws[0] == "" || ws[1] == "" {
		b.errorf(n, d.name, "takes two arguments")
		return
	}
	b.record(ctx, d, n)
	if ctx.srv.IsVirtual {
		b.warnf(n, d.name, "inside <VirtualHost> it never runs: mod_python only reads the main server's imports")
		return
	}
	b.c.imports = append(b.c.imports, Import{Module: ws[0], Interpreter: ws[1], File: n.file, Line: n.line})
}

// take1 is invoke_cmd's TAKE1 argument check.
func (b *builder) take1(d *directiveDef, n *node) (string, bool) {
	w, rest := getwordConf(n.args)
	if w == "" || rest != "" {
		b.errorf(n, d.name, "takes one argument")
		return "", false
	}
	return w, true
}

// setDirective stores a get_config() entry, and the server-config copy
// mod_python makes outside sections.
func (b *builder) setDirective(d *directiveDef, n *node, ctx *walkCtx, value string) {
	b.record(ctx, d, n)
	e := kvo{key: d.name, value: value, file: n.file, line: n.line, sec: ctx.target()}
	conf := b.py(ctx)
	conf.directives = setKV(conf.directives, e)
	if ctx.sec == nil && serverDuplicated[d.name] {
		ctx.srv.srvDirectives = setKV(ctx.srv.srvDirectives, e)
	}
}

func (b *builder) take1Directive(d *directiveDef, n *node, ctx *walkCtx) {
	if v, ok := b.take1(d, n); ok {
		b.setDirective(d, n, ctx, v)
	}
}

// flagDirective is an AP_INIT_FLAG directive, stored as "1" or "0".
func (b *builder) flagDirective(d *directiveDef, n *node, ctx *walkCtx) {
	w, rest := getwordConf(n.args)
	var v string
	switch {
	case rest != "":
	case strings.EqualFold(w, "on"):
		v = "1"
	case strings.EqualFold(w, "off"):
		v = "0"
	}
	if v == "" {
		b.errorf(n, d.name, "must be On or Off")
		return
	}
	switch d.name {
	case "PythonOptimize":
		// Not stored in get_config(): mod_python sets Py_OptimizeFlag = 2
		// for the whole process on any "On", wherever it is written.
		b.record(ctx, d, n)
		if v == "1" {
			b.c.optimize = true
		}
		return
	case "PythonEnablePdb":
		if v == "1" {
			b.warnf(n, d.name, "cannot be honoured behind FastCGI; ignored")
		}
	}
	b.setDirective(d, n, ctx, v)
}

// pythonOption is directive_PythonOption: a missing or empty value stores ""
// which masks an inherited value.
func (b *builder) pythonOption(d *directiveDef, n *node, ctx *walkCtx) {
	key, rest := getwordConf(n.args)
	val, rest := getwordConf(rest)
	if key == "" || rest != "" {
		b.errorf(n, d.name, "takes 1-2 arguments")
		return
	}
	b.record(ctx, d, n)
	e := kvo{key: key, value: val, file: n.file, line: n.line, sec: ctx.target()}
	conf := b.py(ctx)
	conf.options = setKV(conf.options, e)
	if ctx.sec == nil {
		ctx.srv.srvOptions = setKV(ctx.srv.srvOptions, e)
	}
}

// SessionOptionKeys are the keys PythonSessionOptions takes: the suffixes of
// mod_python's PythonOption mod_python.session.* keys (mod_python.md §1.9)
// plus mpgate's cookie attributes, which mod_python never set.
var SessionOptionKeys = []string{
	"session_type", "cookie_name", "application_domain", "application_path",
	"database_directory", "timeout", "lock", "secret",
	"cookie_secure", "cookie_httponly", "cookie_samesite",
}

// pythonSessionOptions is mpgate's PythonSessionOptions directive (the
// req.get_session() proposal mod_python never released): "KEY VALUE", or
// one or more "KEY=VALUE", with the keys of SessionOptionKeys. Sections
// merge it as PythonOption: the inner value of a key wins, an empty one
// masks.
func (b *builder) pythonSessionOptions(d *directiveDef, n *node, ctx *walkCtx) {
	var pairs [][2]string
	first, rest := getwordConf(n.args)
	switch {
	case first == "":
		b.errorf(n, d.name, "takes KEY VALUE or KEY=VALUE ...")
		return
	case strings.Contains(first, "="):
		for w := first; w != ""; w, rest = getwordConf(rest) {
			k, v, ok := strings.Cut(w, "=")
			if !ok {
				b.errorf(n, d.name, "%q: want KEY=VALUE like the other arguments", w)
				return
			}
			pairs = append(pairs, [2]string{k, v})
		}
	default:
		val, tail := getwordConf(rest)
		if tail != "" {
			b.errorf(n, d.name, "takes KEY VALUE or KEY=VALUE ...")
			return
		}
		pairs = append(pairs, [2]string{first, val})
	}
	for _, kv := range pairs {
		key := strings.TrimPrefix(kv[0], "mod_python.session.")
		if !slices.Contains(SessionOptionKeys, key) {
			b.errorf(n, d.name, "unknown option %q (want one of %s)", kv[0], strings.Join(SessionOptionKeys, ", "))
			return
		}
		if key == "cookie_samesite" && kv[1] != "" && !slices.Contains([]string{"Strict", "Lax", "None"}, kv[1]) {
			b.errorf(n, d.name, "cookie_samesite %q: want Strict, Lax or None", kv[1])
			return
		}
	}
	b.record(ctx, d, n)
	conf := b.py(ctx)
	for _, kv := range pairs {
		e := kvo{key: strings.TrimPrefix(kv[0], "mod_python.session."), value: kv[1], file: n.file, line: n.line, sec: ctx.target()}
		conf.session = setKV(conf.session, e)
	}
}

// serverName is core.c server_hostname_port: [scheme://]host[:port].
func (b *builder) serverName(d *directiveDef, n *node, ctx *walkCtx) {
	v, ok := b.take1(d, n)
	if !ok {
		return
	}
	host, port, err := splitServerName(v)
	if err != nil {
		b.errorf(n, d.name, "%v", err)
		return
	}
	ctx.srv.ServerName = host
	ctx.srv.hasServerName = true
	ctx.srv.port = port
	ctx.srv.Port = port
	if !ctx.srv.IsVirtual {
		b.mainPort = port
	}
}

func splitServerName(v string) (host string, port int, err error) {
	if _, after, ok := strings.Cut(v, "://"); ok {
		v = after
	}
	host = v
	var portStr string
	if strings.HasPrefix(v, "[") {
		if i := strings.IndexByte(v, ']'); i >= 0 {
			host = v[:i+1]
			if rest := v[i+1:]; strings.HasPrefix(rest, ":") {
				portStr = rest[1:]
			}
		}
	} else if i := strings.IndexByte(v, ':'); i >= 0 {
		host, portStr = v[:i], v[i+1:]
	}
	if portStr != "" || strings.HasSuffix(v, ":") {
		p, err := strconv.Atoi(portStr)
		if err != nil || p <= 0 || p >= 65536 {
			return "", 0, fmt.Errorf("the port number %q is outside the appropriate range (i.e., 1..65535)", portStr)
		}
		port = p
	}
	return host, port, nil
}

func (b *builder) serverAlias(d *directiveDef, n *node, ctx *walkCtx) {
	if !ctx.srv.IsVirtual {
		b.errorf(n, d.name, "only used in <VirtualHost>")
		return
	}
	for _, w := range words(n.args) {
		ctx.srv.ServerAliases = append(ctx.srv.ServerAliases, w)
	}
}

func (b *builder) serverString(d *directiveDef, n *node, ctx *walkCtx) {
	v, ok := b.take1(d, n)
	if !ok {
		return
	}
	switch d.name {
	case "ServerAdmin":
		ctx.srv.ServerAdmin = v
	case "DocumentRoot":
		ctx.srv.DocumentRoot = b.r.rootRelative(v)
	}
}

func (b *builder) listen(d *directiveDef, n *node, ctx *walkCtx) {
	if ctx.srv.IsVirtual {
		b.errorf(n, d.name, "cannot occur within <VirtualHost> section")
		return
	}
	ws := words(n.args)
	if len(ws) < 1 || len(ws) > 2 {
		b.errorf(n, d.name, "takes 1-2 arguments")
		return
	}
	b.c.listen = append(b.c.listen, ws[0])
}

func (b *builder) alias(d *directiveDef, n *node, ctx *walkCtx) {
	ws := words(n.args)
	if len(ws) < 1 || len(ws) > 2 || (len(ws) == 1 && ctx.locSec == nil) || (d.name == "AliasMatch" && len(ws) != 2) {
		b.errorf(n, d.name, "takes 1-2 arguments")
		return
	}
	ctx.srv.aliases = append(ctx.srv.aliases, srcDirective{name: d.name, args: n.args, file: n.file, line: n.line})
}

// addHandler is mod_mime's AddHandler: handler name and extensions are
// lower-cased, a leading '.' is dropped.
func (b *builder) addHandler(d *directiveDef, n *node, ctx *walkCtx) {
	ws := words(n.args)
	if len(ws) < 2 || ws[0] == "" {
		b.errorf(n, d.name, "requires at least two arguments")
		return
	}
	b.record(ctx, d, n)
	if isTransportHandler(ws[0]) {
		return
	}
	t := ctx.target()
	for _, ext := range ws[1:] {
		ext = strings.ToLower(strings.TrimPrefix(ext, "."))
		t.core.addHandlers = append(t.core.addHandlers, extHandler{ext: ext, handler: strings.ToLower(ws[0]), file: n.file, line: n.line, sec: t})
	}
}

// removeHandler is mod_mime's RemoveHandler; the extension is not
// lower-cased, so ".PY" removes nothing (mod_mime.c remove_extension_info).
func (b *builder) removeHandler(d *directiveDef, n *node, ctx *walkCtx) {
	ws := words(n.args)
	if len(ws) < 1 {
		b.errorf(n, d.name, "requires at least one argument")
		return
	}
	b.record(ctx, d, n)
	t := ctx.target()
	for _, ext := range ws {
		t.core.removeHandlers = append(t.core.removeHandlers, extHandler{ext: strings.TrimPrefix(ext, "."), file: n.file, line: n.line, sec: t})
	}
}

// setHandler is core.c set_sethandler; at request time the value is
// lower-cased unless it starts with "proxy:unix", and "none" means no
// handler (core_override_type).
func (b *builder) setHandler(d *directiveDef, n *node, ctx *walkCtx) {
	v, ok := b.take1(d, n)
	if !ok {
		return
	}
	b.record(ctx, d, n)
	if strings.Contains(v, "%{") {
		b.warnf(n, d.name, "expressions are not evaluated; the value is used as written")
	}
	if !strings.HasPrefix(v, "proxy:unix") {
		v = strings.ToLower(v)
	}
	if isTransportHandler(v) {
		return
	}
	t := ctx.target()
	t.core.setHandler = &strOrigin{value: v, file: n.file, line: n.line, sec: t}
}

func (b *builder) authString(d *directiveDef, n *node, ctx *walkCtx) {
	v, ok := b.take1(d, n)
	if !ok {
		return
	}
	t := ctx.target()
	o := &strOrigin{value: v, file: n.file, line: n.line, sec: t}
	if d.name == "AuthType" {
		t.core.authType = o
	} else {
		t.core.authName = o
	}
}

func (b *builder) errorDocument(d *directiveDef, n *node, ctx *walkCtx) {
	code, rest := getwordConf(n.args)
	text, rest2 := getwordConf(rest)
	if code == "" || text == "" || rest2 != "" {
		b.errorf(n, d.name, "takes two arguments")
		return
	}
	c, err := strconv.Atoi(code)
	if err != nil || c < 100 || c > 599 {
		b.errorf(n, d.name, "unsupported HTTP response code %s", code)
		return
	}
	t := ctx.target()
	t.core.errorDocs = append(t.core.errorDocs, errorDoc{code: c, text: text, file: n.file, line: n.line, sec: t})
}

var overrideNames = map[string]bool{
	"all": true, "none": true, "authconfig": true, "fileinfo": true,
	"indexes": true, "limit": true, "options": true,
}

// overrideArgs returns the arguments of AllowOverride or AllowOverrideList,
// and false (having warned or reported the error) when the line is useless
// where it stands or has none.
func (b *builder) overrideArgs(d *directiveDef, n *node, ctx *walkCtx) ([]string, bool) {
	if ctx.locSec != nil || ctx.inFiles {
		b.warnf(n, d.name, "useless outside <Directory>: .htaccess files are only looked for by the directory walk")
		return nil, false
	}
	ws := words(n.args)
	if len(ws) == 0 {
		b.errorf(n, d.name, "requires at least one argument")
		return nil, false
	}
	return ws, true
}

// allowOverride is core.c set_override: the classes a .htaccess file in
// the directory and below may use.
func (b *builder) allowOverride(d *directiveDef, n *node, ctx *walkCtx) {
	ws, ok := b.overrideArgs(d, n, ctx)
	if !ok {
		return
	}
	var or uint16
	for _, w := range ws {
		k, v, hasV := strings.Cut(w, "=")
		switch strings.ToLower(k) {
		case "limit":
			or |= orLimit
		case "options":
			or |= orOptions
		case "fileinfo":
			or |= orFileInfo
		case "authconfig":
			or |= orAuthCfg
		case "indexes":
			or |= orIndexes
		case "none":
			or = 0
		case "all":
			or = orAll
		case "nonfatal":
			switch {
			case !hasV:
				b.errorf(n, d.name, "=Override, =Unknown or =All expected after %s", w)
				return
			case strings.EqualFold(v, "override"):
				or |= nonfatalOverride
			case strings.EqualFold(v, "unknown"):
				or |= nonfatalUnknown
			case strings.EqualFold(v, "all"):
				or |= nonfatalOverride | nonfatalUnknown
			}
		default:
			b.errorf(n, d.name, "illegal override option %s", w)
			return
		}
	}
	if ctx.dirSec != nil && ctx.dirSec.re != nil {
		b.warnf(n, d.name, "in <%s> it does not decide which .htaccess files are read: regex sections merge after the directory walk", ctx.dirSec.Kind)
	}
	t := ctx.target()
	t.core.allowOverride = ws
	t.core.override = or
}

// allowOverrideList is core.c set_override_list: directives a .htaccess
// file may use one by one, whatever AllowOverride says.
func (b *builder) allowOverrideList(d *directiveDef, n *node, ctx *walkCtx) {
	ws, ok := b.overrideArgs(d, n, ctx)
	if !ok {
		return
	}
	list := []string{}
	for _, w := range ws {
		if strings.EqualFold(w, "none") {
			if len(ws) != 1 {
				b.errorf(n, d.name, "'None' not allowed with other directives in AllowOverrideList")
				return
			}
			break
		}
		if kd, ok := knownDirectives[strings.ToLower(w)]; ok && kd.apply != nil && kd.ctx == ctxRSRC {
			b.warnf(n, d.name, "discarding directive `%s' not allowed in AllowOverrideList", w)
			continue
		}
		list = append(list, w)
	}
	ctx.target().core.overrideList = list
}

// accessFileName is core.c set_access_name: the names a directory's
// .htaccess file may have, tried in order; the first that exists is read.
func (b *builder) accessFileName(d *directiveDef, n *node, ctx *walkCtx) {
	ws := words(n.args)
	if len(ws) == 0 {
		b.errorf(n, d.name, "requires at least one argument")
		return
	}
	ctx.srv.accessNames = ws
	ctx.srv.accessFrom = &strOrigin{value: n.args, file: n.file, line: n.line}
}

// directoryIndex is mod_dir's DirectoryIndex: the files a request for a
// directory is served by, first existing wins; "disabled" turns it off.
func (b *builder) directoryIndex(d *directiveDef, n *node, ctx *walkCtx) {
	ws := words(n.args)
	if len(ws) == 0 {
		b.errorf(n, d.name, "requires at least one argument")
		return
	}
	t := ctx.target()
	t.core.directoryIndex = &strOrigin{value: strings.Join(ws, " "), file: n.file, line: n.line, sec: t}
}

func (b *builder) serverSignature(d *directiveDef, n *node, ctx *walkCtx) {
	v, ok := b.take1(d, n)
	if !ok {
		return
	}
	switch strings.ToLower(v) {
	case "on", "off", "email":
	default:
		b.errorf(n, d.name, "use one of: off | on | email")
	}
}

// errorDirective is core.c generate_error: the configuration is refused with
// the given message.
func (b *builder) errorDirective(d *directiveDef, n *node, ctx *walkCtx) {
	msg := trimSpace(n.args)
	if msg == "" {
		b.errorf(n, d.name, "the Error directive was used with no message")
		return
	}
	if len(msg) >= 2 && (msg[0] == '"' || msg[0] == '\'') && msg[len(msg)-1] == msg[0] {
		msg = msg[1 : len(msg)-1]
	}
	b.errorf(n, d.name, "%s", msg)
}

// compileRegex compiles a section's regular expression. Apache uses PCRE;
// Go's RE2 rejects back-references and look-around, which is reported as an
// error rather than silently never matching.
func compileRegex(s string) (*regexp.Regexp, error) {
	return regexp.Compile(s)
}

// finish is ap_fixup_virtual_hosts and ap_fini_vhost_config: each virtual
// host inherits the main server's sections and settings, and the address
// tables for vhost selection are built.
func (b *builder) finish() {
	c := b.c
	m := c.main
	if !m.hasServerName && b.r.serverName != "" {
		m.ServerName = b.r.serverName
	}
	if m.accessNames == nil {
		m.accessNames = []string{".htaccess"}
	}
	m.accessNamesKey = strings.Join(m.accessNames, " ")
	m.dirs = sortDirs(m.ownDirs, nil)
	m.locs = m.ownLocs
	m.files = m.ownFiles
	m.Directives, m.Options = mergedServerConfig(nil, nil, m.srvDirectives, m.srvOptions)
	if m.ServerAdmin == "" {
		m.ServerAdmin = defaultAdmin
	}
	resolveFacts(m, m)
	m.base = []*section{m.body}
	m.early = newServerLevel(m)
	for _, v := range c.vhosts {
		v.dirs = sortDirs(m.ownDirs, v.ownDirs)
		v.locs = append(append([]*section(nil), m.ownLocs...), v.ownLocs...)
		v.files = append(append([]*section(nil), m.ownFiles...), v.ownFiles...)
		v.Directives, v.Options = mergedServerConfig(m.srvDirectives, m.srvOptions, v.srvDirectives, v.srvOptions)
		v.base = []*section{m.body, v.body}
		v.early = newServerLevel(v)
		if v.ServerAdmin == "" {
			v.ServerAdmin = m.ServerAdmin
		}
		if v.DocumentRoot == "" {
			v.DocumentRoot = m.DocumentRoot
		}
		if v.accessNames == nil {
			v.accessNames, v.accessFrom = m.accessNames, m.accessFrom
		}
		v.accessNamesKey = strings.Join(v.accessNames, " ")
		if !v.hasServerName {
			v.ServerName = defaultVHostName(v, m)
		}
		resolveFacts(v, m)
	}
	c.sel = newSelector(c.vhosts)
	// PythonChildInitHandler walks the table backwards (while (i--)).
	for i, j := 0, len(c.imports)-1; i < j; i, j = i+1, j-1 {
		c.imports[i], c.imports[j] = c.imports[j], c.imports[i]
	}
}

// defaultVHostName is what ap_fini_vhost_config gives a <VirtualHost>
// without ServerName: the main server's name when one of its addresses is a
// wildcard; Apache would otherwise look the first address up in DNS, which
// mpgate does not do, so the address itself is used.
func defaultVHostName(v, m *VirtualHost) string {
	for _, a := range v.addrs {
		if a.wildcard {
			return m.ServerName
		}
	}
	if len(v.addrs) > 0 {
		return v.addrs[0].virthost
	}
	return "bogus_host_without_forward_dns"
}

// sortDirs orders the main server's <Directory> sections followed by a
// virtual host's own as ap_core_reorder_directories does: non-regex before
// regex, then by number of '/' in the path (regexes too), then in that
// order. (The manual says regexes apply in file order; the code sorts them.)
func sortDirs(mainDirs, own []*section) []*section {
	type rec struct {
		s    *section
		orig int
	}
	recs := make([]rec, 0, len(mainDirs)+len(own))
	for _, s := range mainDirs {
		recs = append(recs, rec{s, len(recs)})
	}
	for _, s := range own {
		recs = append(recs, rec{s, len(recs)})
	}
	sort.SliceStable(recs, func(i, j int) bool {
		a, b := recs[i], recs[j]
		if (a.s.re != nil) != (b.s.re != nil) {
			return a.s.re == nil
		}
		if a.s.components != b.s.components {
			return a.s.components < b.s.components
		}
		return a.orig < b.orig
	})
	out := make([]*section, len(recs))
	for i, r := range recs {
		out[i] = r.s
	}
	return out
}

// mergedServerConfig is python_merge_config on the server configs (main,
// then the vhost's own), as get_config()/get_options() of req.server show them.
func mergedServerConfig(baseD, baseO, ownD, ownO []kvo) ([]KV, []KV) {
	var d, o []kvo
	for _, e := range baseD {
		d = setKV(d, e)
	}
	for _, e := range ownD {
		d = setKV(d, e)
	}
	for _, e := range baseO {
		o = setKV(o, e)
	}
	for _, e := range ownO {
		o = setKV(o, e)
	}
	return toKV(d), toKV(o)
}

func toKV(list []kvo) []KV {
	if len(list) == 0 {
		return nil
	}
	out := make([]KV, len(list))
	for i, e := range list {
		out[i] = KV{Key: e.key, Value: e.value}
	}
	return out
}

// vhostAddr is one address of a <VirtualHost> line (vhost.c server_addr_rec).
type vhostAddr struct {
	wildcard   bool       // "*" or "_default_"
	ip         netip.Addr // when not a wildcard
	port       int        // 0 matches any port
	virthost   string     // host part as written
	unresolved bool       // a host name: never matches by address
}

// parseVHostAddr is vhost.c get_addresses without DNS.
func parseVHostAddr(w string, defaultPort int) (vhostAddr, error) {
	wildPort := false
	if w == "*" {
		wildPort = true
	} else if strings.HasSuffix(w, ":*") {
		wildPort = true
		w = w[:len(w)-2]
	}
	host, portStr := w, ""
	if strings.HasPrefix(w, "[") {
		i := strings.IndexByte(w, ']')
		if i < 0 {
			return vhostAddr{}, errors.New("the address or port is invalid")
		}
		host = w[1:i]
		if rest := w[i+1:]; rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return vhostAddr{}, errors.New("the address or port is invalid")
			}
			portStr = rest[1:]
		}
	} else if i := strings.LastIndexByte(w, ':'); i >= 0 && strings.Count(w, ":") == 1 {
		host, portStr = w[:i], w[i+1:]
	}
	a := vhostAddr{virthost: host}
	if portStr != "" {
		p, err := strconv.Atoi(portStr)
		if err != nil || p < 0 || p > 65535 {
			return vhostAddr{}, errors.New("the address or port is invalid")
		}
		a.port = p
	}
	if host == "" {
		return vhostAddr{}, errors.New("missing address for VirtualHost")
	}
	if a.port == 0 && !wildPort {
		a.port = defaultPort
	}
	switch {
	case host == "*" || strings.EqualFold(host, "_default_"):
		a.wildcard = true
	default:
		ip, err := netip.ParseAddr(host)
		if err != nil {
			a.unresolved = true
		} else {
			a.ip = ip.Unmap()
			if a.ip.IsUnspecified() {
				a.wildcard = true // vhost.c treats 0.0.0.0 as a default server
			}
		}
	}
	return a, nil
}

// isTransportHandler reports whether a SetHandler/AddHandler value hands the
// request to a FastCGI or CGI backend: fcgid-script, cgi-script, a
// mod_proxy_fcgi "proxy:" handler, or mpgate's CGI action. In a migrated
// section such a line stands next to the original "SetHandler mod_python"
// kept inside <IfDefine MPGATE>; when the request reaches mpgate, mpgate is
// that backend, so the line is transport, not the content handler, and is
// ignored: the mod_python handler beside it decides, whichever line comes
// last.
func isTransportHandler(v string) bool {
	l := strings.ToLower(v)
	return l == "fcgid-script" || l == "cgi-script" || strings.HasPrefix(l, "proxy:") || strings.HasPrefix(l, "mpgate")
}
