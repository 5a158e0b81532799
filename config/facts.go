// This file reads the core directives that describe a server rather than a
// URL space (LogLevel, Timeout, KeepAlive, KeepAliveTimeout,
// MaxKeepAliveRequests, ServerPath, ErrorLog, LimitRequestLine,
// LimitRequestFieldSize, LimitRequestFields) and resolves what a
// <VirtualHost> inherits from the main server as Apache's config.c
// (ap_init_virtual_host, ap_fixup_virtual_hosts) does. mod_python shows them
// as attributes of the server object (mod_python.md §3.3), and the LogLevel
// in effect decides which log_error lines reach the error log.

package config

import (
	"strconv"
	"strings"
	"time"
)

// Defaults of the server facts, for a configuration that does not set them:
// Apache's DEFAULT_LOGLEVEL (warn, APLOG_WARNING), what Debian's apache2.conf
// sets (Timeout 300, KeepAlive On, MaxKeepAliveRequests 100,
// KeepAliveTimeout 5), else httpd's compiled-in values
// (DEFAULT_LIMIT_REQUEST_LINE, _FIELDSIZE, _FIELDS, DEFAULT_ERRORLOG).
const (
	defaultLogLevel              = 4
	defaultTimeout               = 300 * time.Second
	defaultKeepAliveTimeout      = 5 * time.Second
	defaultMaxKeepAliveRequests  = 100
	defaultLimitRequestLine      = 8190
	defaultLimitRequestFieldSize = 8190
	defaultLimitRequestFields    = 100
	defaultErrorLog              = "logs/error_log"
)

// logLevelNames are LogLevel's level names, by APLOG_* number (trace1..trace8
// follow debug).
var logLevelNames = []string{"emerg", "alert", "crit", "error", "warn", "notice", "info", "debug",
	"trace1", "trace2", "trace3", "trace4", "trace5", "trace6", "trace7", "trace8"}

// parseLogLevel is ap_parse_log_level: a level name, any case.
func parseLogLevel(s string) (int, bool) {
	for i, name := range logLevelNames {
		if strings.EqualFold(s, name) {
			return i, true
		}
	}
	return 0, false
}

// serverFacts are one server's settings as written; unset ones are resolved
// by resolveFacts.
type serverFacts struct {
	logLevel         int           // -1: unset
	timeout          time.Duration // 0: unset (ap_init_virtual_host's 0)
	keepAliveTimeout time.Duration // 0: unset
	keepAlive        int           // -1: unset, else 0 or 1
	keepAliveMax     int           // -1: unset
	errorLog         string        // "": unset
}

func unsetFacts() serverFacts {
	return serverFacts{logLevel: -1, keepAlive: -1, keepAliveMax: -1}
}

// newVHostFacts is what ap_init_virtual_host copies from the main server
// when a <VirtualHost> opens: the request limits and the port, as they are
// at that point of the file (a later main-server value does not reach it).
func newVHostFacts(v, main *VirtualHost) {
	v.facts = unsetFacts()
	v.LimitRequestLine = main.LimitRequestLine
	v.LimitRequestFieldSize = main.LimitRequestFieldSize
	v.LimitRequestFields = main.LimitRequestFields
	v.Port = main.Port
}

// initMainFacts gives the main server the values init_server_config starts
// it with.
func initMainFacts(m *VirtualHost) {
	m.facts = unsetFacts()
	m.LimitRequestLine = defaultLimitRequestLine
	m.LimitRequestFieldSize = defaultLimitRequestFieldSize
	m.LimitRequestFields = defaultLimitRequestFields
}

// resolveFacts fills v's exported facts: its own values, else (for a
// <VirtualHost>) the main server's, else the defaults (ap_fixup_virtual_hosts).
func resolveFacts(v, main *VirtualHost) {
	f := v.facts
	if v.IsVirtual {
		m := main.facts
		if f.logLevel < 0 {
			f.logLevel = main.LogLevel
		}
		if f.timeout == 0 {
			f.timeout = main.Timeout
		}
		if f.keepAliveTimeout == 0 {
			f.keepAliveTimeout = main.KeepAliveTimeout
		}
		if f.keepAlive < 0 {
			f.keepAlive = m.keepAlive
		}
		if f.keepAliveMax < 0 {
			f.keepAliveMax = main.MaxKeepAliveRequests
		}
	} else if f.errorLog == "" {
		f.errorLog = defaultErrorLog
	}
	if f.logLevel < 0 {
		f.logLevel = defaultLogLevel
	}
	if f.timeout == 0 {
		f.timeout = defaultTimeout
	}
	if f.keepAliveTimeout == 0 {
		f.keepAliveTimeout = defaultKeepAliveTimeout
	}
	if f.keepAlive < 0 {
		f.keepAlive = 1
	}
	if f.keepAliveMax < 0 {
		f.keepAliveMax = defaultMaxKeepAliveRequests
	}
	v.LogLevel = f.logLevel
	v.Timeout = f.timeout
	v.KeepAliveTimeout = f.keepAliveTimeout
	v.KeepAlive = f.keepAlive == 1
	v.MaxKeepAliveRequests = f.keepAliveMax
	v.ErrorLog = f.errorLog
}

// logLevel is core.c set_loglevel: each argument is a level, which sets the
// level of the server (or of the section), or module:level, which only that
// module's messages obey. mod_python logs without a module index
// (APLOG_NO_MODULE), so only the plain level concerns it; per-module levels
// are checked and otherwise ignored.
func (b *builder) logLevel(d *directiveDef, n *node, ctx *walkCtx) {
	ws := words(n.args)
	if len(ws) == 0 {
		b.errorf(n, d.name, "LogLevel requires at least one argument")
		return
	}
	level := -1
	for _, w := range ws {
		name := w
		if i := strings.LastIndexByte(w, ':'); i >= 0 {
			name = w[i+1:]
			if i == 0 {
				b.errorf(n, d.name, "invalid module name in %q", w)
				return
			}
		}
		l, ok := parseLogLevel(name)
		if !ok {
			b.errorf(n, d.name, "LogLevel requires level keyword: one of emerg/alert/crit/error/warn/notice/info/debug/trace1/.../trace8")
			return
		}
		if name == w {
			level = l
		}
	}
	b.record(ctx, d, n)
	if level < 0 {
		return
	}
	if ctx.sec != nil {
		t := ctx.target()
		t.core.logLevel = &intOrigin{value: level, file: n.file, line: n.line, sec: t}
		return
	}
	ctx.srv.facts.logLevel = level
}

// intOrigin is an integer setting with the directive that set it.
type intOrigin struct {
	value int
	file  string
	line  int
	sec   *section
}

// serverFact applies the server-wide core directives (RSRC_CONF).
func (b *builder) serverFact(d *directiveDef, n *node, ctx *walkCtx) {
	switch d.name {
	case "KeepAlive":
		w, rest := getwordConf(n.args)
		switch {
		case rest == "" && strings.EqualFold(w, "on"):
			ctx.srv.facts.keepAlive = 1
		case rest == "" && strings.EqualFold(w, "off"):
			ctx.srv.facts.keepAlive = 0
		default:
			b.errorf(n, d.name, "must be On or Off")
		}
		return
	}
	v, ok := b.take1(d, n)
	if !ok {
		return
	}
	srv := ctx.srv
	switch d.name {
	case "Timeout", "KeepAliveTimeout":
		t, ok := parseTimeout(v)
		if !ok {
			b.errorf(n, d.name, "%s has wrong format", d.name)
			return
		}
		if t == 0 {
			// Apache stores 0 too, and a <VirtualHost>'s 0 then means
			// "inherit"; 0 s is no usable timeout anyway.
			t = time.Nanosecond
		}
		if d.name == "Timeout" {
			srv.facts.timeout = t
		} else {
			srv.facts.keepAliveTimeout = t
		}
	case "MaxKeepAliveRequests":
		srv.facts.keepAliveMax = atoiApache(v)
	case "ServerPath":
		srv.ServerPath = v
	case "ErrorLog":
		srv.facts.errorLog = v
	case "LimitRequestLine", "LimitRequestFieldSize", "LimitRequestFields":
		lim := atoiApache(v)
		if lim < 0 {
			b.errorf(n, d.name, "%s %q must be a non-negative integer", d.name, v)
			return
		}
		switch d.name {
		case "LimitRequestLine":
			srv.LimitRequestLine = lim
		case "LimitRequestFieldSize":
			srv.LimitRequestFieldSize = lim
		default:
			srv.LimitRequestFields = lim
		}
	}
}

// parseTimeout is ap_timeout_parameter_parse with seconds as the default
// unit: a non-negative number followed by nothing, "s", "ms", "mi" or "h".
func parseTimeout(s string) (time.Duration, bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil || n > 1<<31 {
		return 0, false
	}
	unit := time.Second
	switch strings.ToLower(s[i:]) {
	case "", "s":
	case "ms":
		unit = time.Millisecond
	case "mi":
		unit = time.Minute
	case "h":
		unit = time.Hour
	default:
		return 0, false
	}
	return time.Duration(n) * unit, true
}

// atoiApache is C's atoi, as Apache reads these numbers: leading digits
// (with a sign), 0 when there are none.
func atoiApache(s string) int {
	i, neg := 0, false
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		neg = s[i] == '-'
		i++
	}
	n := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if n < 1<<30 {
			n = n*10 + int(s[i]-'0')
		}
	}
	if neg {
		return -n
	}
	return n
}
