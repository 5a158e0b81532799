// This file decides where the FastCGI handler replacing a mod_python handler line goes, and writes
// it for each Via. Where each directive is allowed was checked with apache2 -t (Apache 2.4.71):
// ProxyFCGIBackendType, SetHandler, Options and FcgidWrapper are accepted at server level and in
// every section; CGIPassAuth only in <Directory>, <Location>, <Files> and <If> ("not allowed in
// <VirtualHost> context"); <FilesMatch> not inside <Location> ("cannot occur within <Location>
// section"); <If> everywhere, nested in <If> and <Files> too.

package rewrite

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// handlerLine is a mod_python handler line.
type handlerLine struct {
	set    bool       // SetHandler; otherwise AddHandler
	exts   []string   // AddHandler's extensions: lowercase, without the leading dot
	phases []phaseUse // a Python*Handler line of another phase (auth.go); set and exts unused
}

// addition is the FastCGI handler for one handler line.
type addition struct {
	h      *handlerLine
	scope  blockKind // the innermost enclosing section that is not a conditional (kindTop if none)
	file   string
	line   line
	record bool // record a Change for it
}

// genLine is a line to add, indented depth levels below where the addition goes.
type genLine struct {
	depth int
	text  string
}

// place decides where the FastCGI handler for the handler line ln goes. It returns the addition
// to write after ln's guard group, or nil when it goes after the end of an <IfModule mod_python.c>
// (queued on that block) or nowhere (mpgate reads the line as disabled).
func (w *fileWalk) place(ln line, h *handlerLine) (*addition, error) {
	name, _ := directive(ln)
	for _, e := range h.exts {
		if strings.ContainsAny(e, "\"/\x00\r\n") {
			return nil, &Error{File: w.file, Line: ln.first, Directive: name, Err: fmt.Errorf("extension %q cannot be matched by <FilesMatch>", e)}
		}
	}
	for _, b := range w.stack {
		if b.mpgateOff {
			return nil, nil
		}
	}
	add := &addition{h: h, scope: kindTop, file: w.file, line: ln, record: w.record}
	for i := len(w.stack) - 1; i >= 0; i-- {
		if w.stack[i].kind != kindCond {
			add.scope = w.stack[i].kind
			break
		}
	}
	e := slices.IndexFunc(w.stack, func(b *block) bool { return b.pyModule })
	if e < 0 {
		if len(h.phases) > 0 && w.mergePhase(h) {
			return nil, nil
		}
		return add, nil
	}
	// Inside <IfModule mod_python.c> a stock Apache would never see the handler: it goes after
	// the outermost such block, inside copies of the sections in between.
	var chain []*block
	for _, b := range w.stack[e+1:] {
		if b.pyModule {
			continue
		}
		if b.kind == kindVhost {
			outer := w.stack[e]
			return nil, &Error{File: w.file, Line: ln.first, Directive: name, Err: fmt.Errorf(
				"the %s at %s:%d hides the whole <VirtualHost> at %s:%d from an Apache without mod_python, so no handler added inside it would be seen; remove that <IfModule> (keeping its contents) and rewrite again",
				outer.open, outer.file, outer.line, b.file, b.line)}
		}
		chain = append(chain, b)
	}
	landing := w.rw.root
	if e > 0 {
		landing = w.stack[e-1]
	}
	w.stack[e].after = append(w.stack[e].after, pending{chain: chain, add: add, landing: landing})
	return nil, nil
}

// emit writes the FastCGI handlers adds at indentation ind, inside copies of the sections chain,
// followed by the once-per-section directives unless this file added them to landing already.
func (w *fileWalk) emit(ind, eol string, chain []*block, adds []*addition, landing *block) {
	var out []genLine
	depth := len(chain)
	for i, b := range chain {
		out = append(out, genLine{i, b.open})
	}
	// section: the once-per-section directives are still to be written, with the first
	// handler (a phase line that needs no handler writes none).
	section := len(chain) > 0 || !w.sectionDone[landing]
	for _, a := range adds {
		var lines []genLine
		if len(a.h.phases) > 0 {
			var routed bool
			lines, routed = w.phaseLines(a, landing, section)
			if routed {
				lines = append(lines[:1:1], append(w.rw.sectionLines(a.scope), lines[1:]...)...)
				section = false
				if len(chain) == 0 {
					w.sectionDone[landing] = true
				}
			}
			if len(lines) == 0 {
				continue
			}
		} else {
			lines = w.rw.handlerLines(a)
			if section {
				lines = append(lines, w.rw.sectionLines(a.scope)...)
				section = false
			}
			if len(chain) == 0 {
				w.sectionDone[landing] = true
			}
		}
		for _, l := range lines {
			out = append(out, genLine{depth + l.depth, l.text})
		}
		if a.record {
			texts := make([]string, len(lines))
			for j, l := range lines {
				texts[j] = l.text
			}
			w.rw.changes = append(w.rw.changes, Change{File: a.file, Line: a.line.first, Kind: HandlerAdded, Text: a.line.trimmed(), Added: texts})
		}
	}
	for i := len(chain) - 1; i >= 0; i-- {
		out = append(out, genLine{i, "</" + chain[i].name + ">"})
	}
	unit := indentUnit(ind)
	for _, l := range out {
		w.gen(ind + strings.Repeat(unit, l.depth) + l.text + eol)
	}
}

// handlerLines returns the line that sets the FastCGI handler: for SetHandler the handler itself,
// for AddHandler the handler inside a section matching the files mod_mime would give it.
func (rw *rewriter) handlerLines(a *addition) []genLine {
	if a.h.set {
		return []genLine{{0, rw.handler}}
	}
	switch a.scope {
	case kindTop, kindVhost, kindDir:
		return []genLine{
			{0, `<FilesMatch "` + extRegexp(a.h.exts, "^") + `">`},
			{1, rw.handler},
			{0, "</FilesMatch>"},
		}
	}
	// <FilesMatch> is not allowed in <Location>; <If> works everywhere, but ranks above every
	// <Location>, so it is used only where <FilesMatch> cannot be.
	return []genLine{
		{0, `<If "%{REQUEST_FILENAME} =~ m#` + extRegexp(a.h.exts, "(?:^|/)") + `#">`},
		{1, rw.handler},
		{0, "</If>"},
	}
}

// extRegexp returns a regular expression matching the file names (after start: "^" for a base
// name, "(?:^|/)" for a path) that AddHandler gives a handler for exts. mod_mime (find_ct) skips
// the leading dots and the base name up to the next dot, then compares every remaining
// dot-separated part, without case, with the extensions: "x.py.bak", "x..py" and ".x.py" match,
// ".py", "..py" and "x.pyc" do not. Checked against Apache by TestAddHandlerMatch.
func extRegexp(exts []string, start string) string {
	q := make([]string, len(exts))
	for i, e := range exts {
		q[i] = strings.ReplaceAll(regexp.QuoteMeta(e), "#", `\#`)
	}
	return `(?i)` + start + `\.*[^./]+\.(?:[^./]*\.)*(?:` + strings.Join(q, "|") + `)(?:\.[^/]*)?$`
}

// sectionLines returns the directives a section needs once, whatever its handler lines
// (mod_proxy_fcgi's also need mod_env, which apache-conf/mpgate-proxy.conf loads):
// CGIPassAuth On passes the Authorization header mod_python handlers see (fastcgi-apache.md §1.7,
// §2.5). At server and <VirtualHost> level, where CGIPassAuth is not allowed, the directory-level
// ones go into <Location "/">, which also outranks the Options of every <Directory> (with mod_fcgid
// a section without ExecCGI answers 403).
func (rw *rewriter) sectionLines(scope blockKind) []genLine {
	server := scope == kindTop || scope == kindVhost
	var lines, dirOnly []string
	switch rw.opts.Via {
	case ViaProxy:
		// mod_proxy_fcgi drops a backend's Content-Length unless this is
		// set (mod_proxy_fcgi.c, AP_TRUST_CGILIKE_CL_ENVVAR); mpgate sends
		// one only when it is exact, where mod_python's Apache sends one.
		lines = []string{"ProxyFCGIBackendType GENERIC", "SetEnv ap_trust_cgilike_cl 1"}
		dirOnly = []string{"CGIPassAuth On"}
	case ViaFcgid:
		if server {
			lines = []string{rw.wrapper}
			dirOnly = []string{"Options +ExecCGI", "CGIPassAuth On"}
		} else {
			lines = []string{"Options +ExecCGI", rw.wrapper}
			dirOnly = []string{"CGIPassAuth On"}
		}
	case ViaCGI:
		// The relay's <Location> in apache-conf/mpgate-cgi.conf passes Authorization itself.
		return nil
	default:
		panic(errors.New("rewrite: unknown Via " + string(rw.opts.Via)))
	}
	var out []genLine
	for _, l := range lines {
		out = append(out, genLine{0, l})
	}
	if !server {
		for _, l := range dirOnly {
			out = append(out, genLine{0, l})
		}
		return out
	}
	out = append(out, genLine{0, `<Location "/">`})
	for _, l := range dirOnly {
		out = append(out, genLine{1, l})
	}
	return append(out, genLine{0, "</Location>"})
}
