// This file prints configurations for people: Explain for one request
// (`mpgate explain`), Check for a whole configuration (`mpgate config check`).

package config

import (
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// errWriter keeps the first write error so the printing code stays linear.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

// Explain writes why the request got this configuration: the virtual host,
// the sections applied in order, the handler lists with their directories
// and origins, the directives and the options (masked ones marked).
func (m *Merged) Explain(w io.Writer) error {
	ew := &errWriter{w: w}
	v := m.VHost
	if v.IsVirtual {
		ew.printf("vhost: %s  <VirtualHost %s> %s:%d\n", quoteEmpty(v.ServerName), strings.Join(v.Addrs, " "), v.File, v.Line)
	} else {
		ew.printf("vhost: main server %s  %s\n", v.File, quoteEmpty(v.ServerName))
	}
	ew.printf("sections:\n")
	for _, s := range m.Sections {
		ew.printf("  %s\n", s)
	}
	if len(m.Htaccess) > 0 {
		ew.printf(".htaccess files read:\n")
		for _, f := range m.Htaccess {
			ew.printf("  %s\n", f)
		}
	}
	if len(m.Ifs) > 0 {
		ew.printf("if walk:\n")
		for _, r := range m.Ifs {
			ew.printf("  %s: %s\n", r.Section, r.Result)
		}
	}
	if m.Err != nil {
		ew.printf("refused: %d (%s)\n", m.Status, m.Err)
	}
	if m.Extension != "" {
		ew.printf("extension: %s\n", m.Extension)
	}
	if m.handlerFrom != "" {
		ew.printf("handler: %s  (%s %s)\n", m.Handler, m.handlerFrom, m.originText(m.handlerFrom))
	} else {
		ew.printf("handler: \"\"\n")
	}
	if len(m.AddHandlerExts) > 0 {
		ew.printf("addhandler exts: %s\n", strings.Join(m.AddHandlerExts, " "))
	}
	if m.IsLocation {
		ew.printf("location: true (req.filename and req.path_info are None)\n")
	} else {
		ew.printf("location: false\n")
	}
	ew.printf("config dir: %s\n", noneIfEmpty(m.ConfigDir))
	if _, ok := m.origins["DirectoryIndex"]; ok {
		ew.printf("directory index: %s  %s\n", m.DirectoryIndex, m.originText("DirectoryIndex"))
	}

	ew.printf("phases:\n")
	keys := handlerKeys(m.Handlers)
	ran := false
	for _, p := range runOrder {
		hs, interp := m.Phase(p)
		if len(hs) == 0 {
			continue
		}
		ran = true
		key := p
		if _, ok := m.handlersFor(p, m.Extension); ok && m.Extension != "" && !isEarly(p) {
			key = p + m.Extension
		}
		if isEarly(p) {
			key += " (server level)"
		}
		ew.printf("  %s: %s in %s  [%s]\n", p, key, interp, m.phaseWhere(p))
	}
	if !ran {
		ew.printf("  none\n")
	}
	if len(keys) > 0 {
		ew.printf("handlers:\n")
	}
	for _, k := range keys {
		note := ""
		if base, _, _ := strings.Cut(k, "."); isEarly(base) && m.origins[k].sec.kind != kindServer && m.origins[k].sec.kind != kindVHost {
			note = "  (not used before URI translation, where the server's list applies)"
		}
		ew.printf("  %s  from %s%s\n", k, m.origins[k].sec.Section, note)
		for _, h := range m.Handlers[k] {
			var flags []string
			flags = append(flags, "dir="+noneIfEmpty(h.Directory))
			if h.IsLocation {
				flags = append(flags, "location")
			}
			if h.Silent {
				flags = append(flags, "silent")
			}
			ew.printf("    %s  %s  %s:%d\n", h.Handler, strings.Join(flags, " "), h.File, h.Line)
		}
	}
	ew.printf("interpreter: %s\n", m.Interpreter)
	if len(v.Directives) > 0 || len(v.Options) > 0 {
		ew.printf("server config:\n")
		for _, kv := range v.Directives {
			ew.printf("  %s = %s\n", kv.Key, kv.Value)
		}
		for _, kv := range v.Options {
			ew.printf("  PythonOption %s = %q\n", kv.Key, kv.Value)
		}
	}
	if len(m.Directives) > 0 {
		ew.printf("directives:\n")
	}
	for _, kv := range m.Directives {
		ew.printf("  %s = %s  %s\n", kv.Key, kv.Value, m.originText(kv.Key))
	}
	if len(m.Options) > 0 {
		ew.printf("options:\n")
	}
	for _, kv := range m.Options {
		if kv.Value == "" {
			ew.printf("  %s = \"\" masked  %s\n", kv.Key, m.originText("PythonOption "+kv.Key))
			continue
		}
		ew.printf("  %s = %s  %s\n", kv.Key, kv.Value, m.originText("PythonOption "+kv.Key))
	}
	if len(m.SessionOptions) > 0 {
		ew.printf("session options:\n")
	}
	for _, kv := range m.SessionOptions {
		ew.printf("  %s = %q  %s\n", kv.Key, kv.Value, m.originText("PythonSessionOptions "+kv.Key))
	}
	if _, ok := m.origins["AuthType"]; ok {
		ew.printf("AuthType: %s  %s\n", noneIfEmpty(m.AuthType), m.originText("AuthType"))
	}
	if m.AuthName != "" {
		ew.printf("AuthName: %s  %s\n", m.AuthName, m.originText("AuthName"))
	}
	if len(m.Require) > 0 {
		needs := "no user needed: the authentication phases do not run"
		if m.AuthRequired {
			needs = "a user is needed: PythonAuthenHandler and PythonAuthzHandler run"
		}
		ew.printf("Require: %s (%s)  %s\n", strings.Join(m.Require, "; "), needs, m.originText("Require"))
	}
	if len(m.ErrorDocuments) > 0 {
		codes := make([]int, 0, len(m.ErrorDocuments))
		for c := range m.ErrorDocuments {
			codes = append(codes, c)
		}
		sort.Ints(codes)
		ew.printf("error documents:\n")
		for _, c := range codes {
			ew.printf("  %d %s  %s\n", c, m.ErrorDocuments[c], m.originText("ErrorDocument "+strconv.Itoa(c)))
		}
	}
	return ew.err
}

// phaseWhere says where and whether mpgate runs a phase's handlers for
// this request (docs/compat.md has the reasons).
func (m *Merged) phaseWhere(phase string) string {
	switch phase {
	case "PythonHandler":
		return "daemon: the content handler"
	case "PythonAccessHandler":
		return "Apache's FastCGI access checker (mod_fcgid FcgidAccessChecker), when the rewritten configuration delegates it"
	case "PythonAuthenHandler", "PythonAuthzHandler":
		if !m.AuthRequired {
			return "not run: Apache runs authentication only when a Require line needs a user"
		}
		return "Apache's FastCGI authorizer (mod_authnz_fcgi or mod_fcgid), when the rewritten configuration delegates it"
	case "PythonLogHandler", "PythonCleanupHandler":
		return "daemon: after the content handler"
	}
	return "daemon: before the content handler"
}

// runOrder lists the request phases in the order Apache runs them
// (mod_python.md §1.6).
var runOrder = []string{
	"PythonInitHandler", "PythonPostReadRequestHandler", "PythonTransHandler",
	"PythonHeaderParserHandler", "PythonAccessHandler", "PythonAuthenHandler",
	"PythonAuthzHandler", "PythonTypeHandler", "PythonFixupHandler", "PythonHandler",
	"PythonLogHandler", "PythonCleanupHandler",
}

func isEarly(phase string) bool {
	return phase == "PythonPostReadRequestHandler" || phase == "PythonTransHandler" || phase == "PythonInitHandler"
}

func (m *Merged) originText(key string) string {
	o, ok := m.origins[key]
	if !ok {
		return ""
	}
	return fmt.Sprintf("at %s:%d in %s", o.file, o.line, o.sec.Section)
}

// Warnings returns the warnings of the .htaccess files read for the
// request (those of the main configuration are in Config.Warnings).
func (m *Merged) Warnings() []Warning { return m.warnings }

// handlerKeys orders handler list keys by phase, then qualifier.
func handlerKeys(h map[string][]Handler) []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	rank := func(k string) int {
		base, _, _ := strings.Cut(k, ".")
		for i, p := range runOrder {
			if p == base {
				return i
			}
		}
		return len(runOrder)
	}
	sort.Slice(keys, func(i, j int) bool {
		if ri, rj := rank(keys[i]), rank(keys[j]); ri != rj {
			return ri < rj
		}
		return keys[i] < keys[j]
	})
	return keys
}

func noneIfEmpty(s string) string {
	if s == "" {
		return "None"
	}
	return s
}

func quoteEmpty(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

// Check writes, per server and section, the mod_python configuration as
// written (what `mpgate config check` shows), then the main server's
// PythonImport list, the warnings and the errors. It returns an error when
// the configuration has errors, or when writing fails.
func Check(c *Config, w io.Writer) error {
	ew := &errWriter{w: w}
	servers := append([]*VirtualHost{c.main}, c.vhosts...)
	for _, v := range servers {
		if v.IsVirtual {
			ew.printf("<VirtualHost %s> %s:%d\n", strings.Join(v.Addrs, " "), v.File, v.Line)
		} else {
			ew.printf("main server %s\n", v.File)
		}
		ew.printf("  ServerName %s\n", quoteEmpty(v.ServerName))
		if len(v.ServerAliases) > 0 {
			ew.printf("  ServerAlias %s\n", strings.Join(v.ServerAliases, " "))
		}
		if v.IsVirtual {
			ew.printf("  MPGATE_VHOST %s\n", v.ID())
		}
		writeLines(ew, v.body.lines, "  ")
		if len(v.Directives) > 0 || len(v.Options) > 0 {
			ew.printf("  server config (req.server):\n")
			for _, kv := range v.Directives {
				ew.printf("    %s = %s\n", kv.Key, kv.Value)
			}
			for _, kv := range v.Options {
				ew.printf("    PythonOption %s = %q\n", kv.Key, kv.Value)
			}
		}
		for _, s := range c.sections {
			if s.server != v || s.kind == kindServer || s.kind == kindVHost || !hasLines(s) {
				continue
			}
			indent := "  "
			for p := s.parent; p != nil; p = p.parent {
				indent += "  "
			}
			note := ""
			switch {
			case s.kind == kindIf && s.Kind != "Else" && s.cond == nil:
				note = "  (never applied: condition not evaluated)"
			case s.kind == kindIf:
				note = "  (applied by the if walk when its condition holds)"
			case inIf(s):
				note = "  (never applied: the file walk runs before the if walk)"
			}
			ew.printf("%s<%s %s> %s:%d%s\n", indent, s.Kind, s.Arg, s.File, s.Line, note)
			writeLines(ew, s.lines, indent+"  ")
		}
	}
	checkPhases(c, ew)
	htErrs := checkHtaccess(c, ew)
	if len(c.imports) > 0 {
		ew.printf("imports (run in this order at worker start):\n")
		for _, im := range c.Imports() {
			ew.printf("  %s in %s  %s:%d\n", im.Module, im.Interpreter, im.File, im.Line)
		}
	}
	if len(c.Warnings) > 0 {
		ew.printf("warnings:\n")
		for _, wn := range c.Warnings {
			ew.printf("  %s\n", wn)
		}
	}
	if len(c.Errors) > 0 {
		ew.printf("errors:\n")
		for _, e := range c.Errors {
			ew.printf("  %s\n", e)
		}
	}
	if htErrs > 0 {
		ew.printf("%d errors, %d warnings; %d .htaccess files refuse requests\n", len(c.Errors), len(c.Warnings), htErrs)
	} else {
		ew.printf("%d errors, %d warnings\n", len(c.Errors), len(c.Warnings))
	}
	if ew.err != nil {
		return ew.err
	}
	if len(c.Errors) > 0 {
		return fmt.Errorf("config: %d errors", len(c.Errors))
	}
	return nil
}

// hasLines reports whether s or a section nested in it has directives to show.
func hasLines(s *section) bool {
	if len(s.lines) > 0 {
		return true
	}
	for _, f := range s.files {
		if hasLines(f) {
			return true
		}
	}
	return false
}

func inIf(s *section) bool {
	for p := s.parent; p != nil; p = p.parent {
		if p.kind == kindIf {
			return true
		}
	}
	return false
}

func writeLines(ew *errWriter, lines []srcDirective, indent string) {
	for _, l := range lines {
		ew.printf("%s%s %s  %s:%d\n", indent, l.name, l.args, l.file, l.line)
	}
}

// PhaseNotes says in one line how mpgate runs each Python phase behind
// FastCGI, for `mpgate config check` (docs/compat.md has the reasons).
var PhaseNotes = map[string]string{
	"PythonPostReadRequestHandler": "runs in the daemon when the request reaches mpgate, after Apache has mapped and authorized it: it cannot change what Apache does",
	"PythonTransHandler":           "runs in the daemon before the content handler: it cannot re-route Apache (Apache has already mapped the URL to a file and chosen the handler)",
	"PythonInitHandler":            "runs in the daemon before the content handler, not at Apache's post-read-request or header-parser hook",
	"PythonHeaderParserHandler":    "runs in the daemon before the content handler, after Apache's own access control",
	"PythonTypeHandler":            "runs in the daemon before the content handler: the content type it sets is mpgate's response's, Apache's mod_mime has already run",
	"PythonFixupHandler":           "runs in the daemon just before the content handler, as under mod_python",
	"PythonLogHandler":             "runs in the daemon after the content handler: it sees mpgate's status and headers, not what Apache finally sent (ErrorDocument, filters)",
	"PythonCleanupHandler":         "runs in the daemon when the request ends",
	"PythonAccessHandler":          "runs through Apache's FastCGI access checker (mod_fcgid FcgidAccessChecker; mod_authnz_fcgi has none) when the rewritten configuration delegates it",
	"PythonAuthenHandler":          "runs through Apache's FastCGI authorizer (mod_authnz_fcgi or mod_fcgid) when the rewritten configuration delegates it, and only when a Require line needs a user",
	"PythonAuthzHandler":           "runs through Apache's FastCGI authorizer (mod_authnz_fcgi or mod_fcgid) when the rewritten configuration delegates it, and only when a Require line needs a user",
}

// checkPhases lists the handler directives of phases other than content,
// with how each runs.
func checkPhases(c *Config, ew *errWriter) {
	var lines []srcDirective
	for _, s := range c.sections {
		for _, l := range s.lines {
			if _, ok := PhaseNotes[l.name]; ok {
				lines = append(lines, l)
			}
		}
	}
	writePhaseNotes(ew, lines, "  ")
}

func writePhaseNotes(ew *errWriter, lines []srcDirective, indent string) {
	if len(lines) == 0 {
		return
	}
	ew.printf("%sphases other than content (how mpgate runs them):\n", indent)
	for _, l := range lines {
		ew.printf("%s  %s:%d: %s %s: %s\n", indent, l.file, l.line, l.name, l.args, PhaseNotes[l.name])
	}
}

// maxCheckDirs bounds the directories checkHtaccess visits.
const maxCheckDirs = 20000

// checkHtaccess finds the access files under every server's DocumentRoot
// and plain <Directory> paths, and reports, per file, whether Apache reads
// it for that directory (AllowOverride), what it sets, and the line that
// makes it refuse requests. It returns how many files refuse requests.
func checkHtaccess(c *Config, ew *errWriter) int {
	type seen struct {
		file string
		v    *VirtualHost
	}
	reported := map[seen]bool{}
	var refusing, read, ignored []string
	details := map[string][]string{}
	visited := 0
	servers := append([]*VirtualHost{c.main}, c.vhosts...)
	for _, v := range servers {
		roots := []string{}
		if v.DocumentRoot != "" {
			roots = append(roots, v.DocumentRoot)
		}
		for _, d := range v.dirs {
			if d.kind == kindDir && !d.fnmatch && d.path != "/" {
				roots = append(roots, strings.TrimSuffix(d.path, "/"))
			}
		}
		for _, root := range roots {
			_ = filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
				if err != nil || !de.IsDir() {
					return nil
				}
				if visited++; visited > maxCheckDirs {
					return filepath.SkipAll
				}
				m := c.lookupIn(v, Query{URI: "/", Filename: strings.TrimSuffix(p, "/") + "/"})
				readHere := map[string]bool{}
				for _, f := range m.Htaccess {
					readHere[f] = true
				}
				for _, s := range m.htSecs {
					k := seen{s.File, v}
					if reported[k] {
						continue
					}
					reported[k] = true
					read = append(read, s.File)
					var ds []string
					for _, l := range s.lines {
						ds = append(ds, fmt.Sprintf("%s %s  %s:%d", l.name, l.args, l.file, l.line))
						if n, ok := PhaseNotes[l.name]; ok {
							ds = append(ds, "  "+n)
						}
					}
					for _, w := range s.htWarnings {
						ds = append(ds, "warning: "+w.String())
					}
					details[s.File] = append(details[s.File], ds...)
				}
				if m.Err != nil {
					k := seen{m.Err.File, v}
					if !reported[k] {
						reported[k] = true
						refusing = append(refusing, fmt.Sprintf("%s: refuses every request below it with %d: %s", m.Err.File, m.Status, m.Err))
					}
				}
				for _, name := range v.accessNames {
					f := filepath.Join(p, name)
					if _, err := c.rs.fs.Stat(f); err != nil || readHere[f] || m.Err != nil {
						continue
					}
					k := seen{f, v}
					if !reported[k] {
						reported[k] = true
						ignored = append(ignored, f)
					}
				}
				return nil
			})
		}
	}
	if len(read)+len(refusing)+len(ignored) == 0 {
		return 0
	}
	ew.printf(".htaccess files (under the DocumentRoots and <Directory> paths):\n")
	for _, f := range read {
		ew.printf("  %s\n", f)
		for _, d := range details[f] {
			ew.printf("    %s\n", d)
		}
		details[f] = nil
	}
	for _, f := range ignored {
		ew.printf("  %s: not read (AllowOverride None and no AllowOverrideList for its directory, or an earlier AccessFileName exists)\n", f)
	}
	for _, r := range refusing {
		ew.printf("  %s\n", r)
	}
	return len(refusing)
}
