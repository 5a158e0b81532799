// This file prints configurations for people: Explain for one request
// (`mpgate explain`), Check for a whole configuration (`mpgate config check`).

package config

import (
	"fmt"
	"io"
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
		ew.printf("  %s: %s in %s\n", p, key, interp)
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
			if s.kind == kindIf || inIf(s) {
				note = "  (never applied: <If> is not evaluated)"
			}
			ew.printf("%s<%s %s> %s:%d%s\n", indent, s.Kind, s.Arg, s.File, s.Line, note)
			writeLines(ew, s.lines, indent+"  ")
		}
	}
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
	ew.printf("%d errors, %d warnings\n", len(c.Errors), len(c.Warnings))
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
