// This file evaluates the conditions of <If> and <ElseIf>: the subset of
// Apache's ap_expr (https://httpd.apache.org/docs/2.4/expr.html) that sites
// write in practice. A condition outside the subset is reported once, when
// the configuration is read, and its section never applies, as before
// conditions were evaluated at all.

package config

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strconv"
	"strings"
)

// Params gives a request's CGI variables ("HTTP_HOST", "QUERY_STRING",
// "REQUEST_METHOD", "HTTPS", ...) as Apache passed them over FastCGI; ""
// when unset. *fcgi.Request satisfies it.
type Params interface {
	Param(name string) string
}

// exprEnv is what a condition reads.
type exprEnv struct {
	q        *Query
	filename string // r->filename once the walks are done
	v        *VirtualHost
	fs       fileSystem
}

func (e *exprEnv) param(name string) string {
	if e.q.Params == nil {
		return ""
	}
	return e.q.Params.Param(name)
}

// cond is a compiled condition.
type cond func(e *exprEnv) bool

// word is a compiled string-valued operand.
type word func(e *exprEnv) string

// exprVars are the variables a condition may read (ap_expr's request
// variables that a FastCGI backend can know), by upper-case name.
var exprVars = map[string]word{
	"REQUEST_URI":      func(e *exprEnv) string { return e.q.URI },
	"REQUEST_FILENAME": func(e *exprEnv) string { return e.filename },
	"SCRIPT_FILENAME":  func(e *exprEnv) string { return e.filename },
	"DOCUMENT_ROOT":    func(e *exprEnv) string { return e.v.DocumentRoot },
	"SERVER_NAME":      func(e *exprEnv) string { return firstNonEmptyString(e.param("SERVER_NAME"), e.v.ServerName) },
	"HTTP_HOST":        func(e *exprEnv) string { return firstNonEmptyString(e.param("HTTP_HOST"), e.q.Host) },
	"REQUEST_METHOD": func(e *exprEnv) string {
		if m := e.param("REQUEST_METHOD"); m != "" {
			return m
		}
		return e.q.Method
	},
	"QUERY_STRING": func(e *exprEnv) string {
		if e.q.Params != nil {
			return e.param("QUERY_STRING")
		}
		return e.q.QueryString
	},
	"HTTPS": func(e *exprEnv) string {
		if strings.EqualFold(e.param("HTTPS"), "on") {
			return "on"
		}
		return "off"
	},
	"REQUEST_SCHEME": func(e *exprEnv) string {
		if s := e.param("REQUEST_SCHEME"); s != "" {
			return s
		}
		if strings.EqualFold(e.param("HTTPS"), "on") {
			return "https"
		}
		return "http"
	},
	"SERVER_PORT":     func(e *exprEnv) string { return e.param("SERVER_PORT") },
	"SERVER_ADDR":     func(e *exprEnv) string { return e.param("SERVER_ADDR") },
	"SERVER_PROTOCOL": func(e *exprEnv) string { return e.param("SERVER_PROTOCOL") },
	"REMOTE_ADDR":     func(e *exprEnv) string { return e.param("REMOTE_ADDR") },
	"REMOTE_HOST":     func(e *exprEnv) string { return e.param("REMOTE_HOST") },
	"REMOTE_USER":     func(e *exprEnv) string { return e.param("REMOTE_USER") },
	"AUTH_TYPE":       func(e *exprEnv) string { return e.param("AUTH_TYPE") },
	"PATH_INFO":       func(e *exprEnv) string { return e.param("PATH_INFO") },
	"CONTENT_TYPE":    func(e *exprEnv) string { return e.param("CONTENT_TYPE") },
	"SERVER_ADMIN":    func(e *exprEnv) string { return e.v.ServerAdmin },
}

// exprHeaders are ap_expr's header variables, which read the request header
// of the same name.
var exprHeaders = []string{"HTTP_ACCEPT", "HTTP_COOKIE", "HTTP_FORWARDED", "HTTP_PROXY_CONNECTION", "HTTP_REFERER", "HTTP_USER_AGENT"}

func init() {
	for _, h := range exprHeaders {
		exprVars[h] = func(e *exprEnv) string { return e.param(h) }
	}
}

func firstNonEmptyString(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// headerParam is the CGI name of a request header: HTTP_ and the name upper
// cased with '-' as '_' (ap_add_common_vars's http2env).
func headerParam(name string) string {
	var b strings.Builder
	b.WriteString("HTTP_")
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		default:
			c = '_'
		}
		b.WriteByte(c)
	}
	return b.String()
}

// errUnsupported marks a condition that is valid ap_expr, as far as this
// parser can tell, but outside the subset evaluated here.
var errUnsupported = errors.New("not evaluated by mpgate")

// exprParser is a recursive-descent parser over one condition.
type exprParser struct {
	s   string
	pos int
}

// parseExpr compiles an <If>/<ElseIf> condition.
func parseExpr(s string) (cond, error) {
	p := &exprParser{s: s}
	c, err := p.or()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos < len(p.s) {
		return nil, fmt.Errorf("unexpected %q", p.s[p.pos:])
	}
	return c, nil
}

func (p *exprParser) space() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t' || p.s[p.pos] == '\n' || p.s[p.pos] == '\r') {
		p.pos++
	}
}

// accept consumes tok if it comes next.
func (p *exprParser) accept(tok string) bool {
	p.space()
	if strings.HasPrefix(p.s[p.pos:], tok) {
		p.pos += len(tok)
		return true
	}
	return false
}

// acceptWord consumes a keyword or a dash operator (true, in, -f, -eq)
// that is not the start of a longer name.
func (p *exprParser) acceptWord(tok string) bool {
	p.space()
	if !strings.HasPrefix(p.s[p.pos:], tok) {
		return false
	}
	end := p.pos + len(tok)
	if end < len(p.s) && isIdent(p.s[end]) {
		return false
	}
	p.pos = end
	return true
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (p *exprParser) or() (cond, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.accept("||") {
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		a := l
		l = func(e *exprEnv) bool { return a(e) || r(e) }
	}
	return l, nil
}

func (p *exprParser) and() (cond, error) {
	l, err := p.not()
	if err != nil {
		return nil, err
	}
	for p.accept("&&") {
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		a := l
		l = func(e *exprEnv) bool { return a(e) && r(e) }
	}
	return l, nil
}

func (p *exprParser) not() (cond, error) {
	p.space()
	if p.pos < len(p.s) && p.s[p.pos] == '!' && !strings.HasPrefix(p.s[p.pos:], "!=") && !strings.HasPrefix(p.s[p.pos:], "!~") {
		p.pos++
		c, err := p.not()
		if err != nil {
			return nil, err
		}
		return func(e *exprEnv) bool { return !c(e) }, nil
	}
	return p.primary()
}

// fileTests are the unary file operators evaluated here.
var fileTests = map[string]func(fi fs.FileInfo) bool{
	"-f": func(fi fs.FileInfo) bool { return fi.Mode().IsRegular() },
	"-d": func(fi fs.FileInfo) bool { return fi.IsDir() },
	"-e": func(fs.FileInfo) bool { return true },
	"-s": func(fi fs.FileInfo) bool { return fi.Mode().IsRegular() && fi.Size() > 0 },
}

func (p *exprParser) primary() (cond, error) {
	p.space()
	if p.pos >= len(p.s) {
		return nil, errors.New("unexpected end of expression")
	}
	if p.accept("(") {
		c, err := p.or()
		if err != nil {
			return nil, err
		}
		if !p.accept(")") {
			return nil, errors.New("missing ')'")
		}
		return c, nil
	}
	if p.acceptWord("true") {
		return func(*exprEnv) bool { return true }, nil
	}
	if p.acceptWord("false") {
		return func(*exprEnv) bool { return false }, nil
	}
	if p.s[p.pos] == '-' && p.pos+1 < len(p.s) && isIdent(p.s[p.pos+1]) {
		start := p.pos
		p.pos++
		for p.pos < len(p.s) && isIdent(p.s[p.pos]) {
			p.pos++
		}
		op := p.s[start:p.pos]
		w, err := p.word()
		if err != nil {
			return nil, err
		}
		switch op {
		case "-n":
			return func(e *exprEnv) bool { return w(e) != "" }, nil
		case "-z":
			return func(e *exprEnv) bool { return w(e) == "" }, nil
		}
		if test, ok := fileTests[op]; ok {
			return func(e *exprEnv) bool {
				name := w(e)
				if name == "" {
					return false
				}
				fi, err := e.fs.Stat(name)
				return err == nil && test(fi)
			}, nil
		}
		return nil, fmt.Errorf("unary operator %s: %w", op, errUnsupported)
	}
	l, err := p.word()
	if err != nil {
		return nil, err
	}
	return p.comparison(l)
}

// comparison parses what follows a word: a binary operator and its right
// side.
func (p *exprParser) comparison(l word) (cond, error) {
	p.space()
	switch {
	case p.accept("=~"), p.accept("!~"):
		neg := p.s[p.pos-2] == '!'
		re, err := p.regex()
		if err != nil {
			return nil, err
		}
		return func(e *exprEnv) bool { return re.MatchString(l(e)) != neg }, nil
	case p.accept("=="), p.accept("="):
		r, err := p.word()
		if err != nil {
			return nil, err
		}
		return func(e *exprEnv) bool { return l(e) == r(e) }, nil
	case p.accept("!="):
		r, err := p.word()
		if err != nil {
			return nil, err
		}
		return func(e *exprEnv) bool { return l(e) != r(e) }, nil
	case p.accept("<="), p.accept(">="), p.accept("<"), p.accept(">"):
		op := strings.TrimSpace(p.s[p.pos-2 : p.pos])
		if op != "<=" && op != ">=" {
			op = op[len(op)-1:]
		}
		r, err := p.word()
		if err != nil {
			return nil, err
		}
		return func(e *exprEnv) bool { return compareOp(strings.Compare(l(e), r(e)), op) }, nil
	case p.acceptWord("in"):
		list, err := p.list()
		if err != nil {
			return nil, err
		}
		return func(e *exprEnv) bool {
			v := l(e)
			for _, w := range list {
				if w(e) == v {
					return true
				}
			}
			return false
		}, nil
	}
	for _, op := range []string{"-eq", "-ne", "-lt", "-le", "-gt", "-ge"} {
		if p.acceptWord(op) {
			r, err := p.word()
			if err != nil {
				return nil, err
			}
			sym := map[string]string{"-eq": "==", "-ne": "!=", "-lt": "<", "-le": "<=", "-gt": ">", "-ge": ">="}[op]
			return func(e *exprEnv) bool {
				a, err1 := strconv.ParseInt(strings.TrimSpace(l(e)), 10, 64)
				b, err2 := strconv.ParseInt(strings.TrimSpace(r(e)), 10, 64)
				if err1 != nil || err2 != nil {
					return false // ap_expr logs "not a number" and yields false
				}
				c := 0
				if a < b {
					c = -1
				} else if a > b {
					c = 1
				}
				return compareOp(c, sym)
			}, nil
		}
	}
	for _, op := range []string{"-strmatch", "-strcmatch", "-fnmatch"} {
		if p.acceptWord(op) {
			r, err := p.word()
			if err != nil {
				return nil, err
			}
			flags := 0
			switch op {
			case "-strcmatch":
				flags = fnmCaseBlind
			case "-fnmatch":
				flags = fnmPathname
			}
			return func(e *exprEnv) bool { return fnmatch(r(e), l(e), flags) }, nil
		}
	}
	if p.pos < len(p.s) && p.s[p.pos] == '-' {
		return nil, fmt.Errorf("binary operator %q: %w", p.rest(), errUnsupported)
	}
	return nil, fmt.Errorf("expected an operator at %q", p.rest())
}

func (p *exprParser) rest() string {
	r := p.s[p.pos:]
	if i := strings.IndexAny(r, " \t"); i > 0 {
		r = r[:i]
	}
	return r
}

func compareOp(c int, op string) bool {
	switch op {
	case "==":
		return c == 0
	case "!=":
		return c != 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	}
	return c >= 0
}

// list is "{ word, word, ... }".
func (p *exprParser) list() ([]word, error) {
	if !p.accept("{") {
		if p.pos < len(p.s) && isIdent(p.s[p.pos]) {
			return nil, fmt.Errorf("list function %q: %w", p.rest(), errUnsupported)
		}
		return nil, errors.New("expected '{' after in")
	}
	var out []word
	for {
		w, err := p.word()
		if err != nil {
			return nil, err
		}
		out = append(out, w)
		if p.accept("}") {
			return out, nil
		}
		if !p.accept(",") {
			return nil, errors.New("expected ',' or '}' in list")
		}
	}
}

// regex is /re/ or m#re# (any delimiter after m), with an optional i flag.
func (p *exprParser) regex() (*regexp.Regexp, error) {
	p.space()
	if p.pos >= len(p.s) {
		return nil, errors.New("missing regular expression")
	}
	delim := p.s[p.pos]
	switch {
	case delim == '/':
		p.pos++
	case delim == 'm' && p.pos+1 < len(p.s):
		delim = p.s[p.pos+1]
		p.pos += 2
	default:
		return nil, fmt.Errorf("expected a regular expression at %q", p.rest())
	}
	// A backslash before the delimiter makes it part of the expression.
	var b strings.Builder
	end := -1
	for i := p.pos; i < len(p.s); i++ {
		if p.s[i] == '\\' && i+1 < len(p.s) && p.s[i+1] == delim {
			b.WriteByte(delim)
			i++
			continue
		}
		if p.s[i] == delim {
			end = i
			break
		}
		b.WriteByte(p.s[i])
	}
	if end < 0 {
		return nil, errors.New("unterminated regular expression")
	}
	src := b.String()
	p.pos = end + 1
	if p.pos < len(p.s) && p.s[p.pos] == 'i' {
		src = "(?i)" + src
		p.pos++
	}
	re, err := compileRegex(src)
	if err != nil {
		return nil, fmt.Errorf("regex %q: %w", src, err)
	}
	return re, nil
}

// word is a quoted string (with %{VAR} inside), a %{VAR}, or a number.
func (p *exprParser) word() (word, error) {
	p.space()
	if p.pos >= len(p.s) {
		return nil, errors.New("unexpected end of expression")
	}
	c := p.s[p.pos]
	switch {
	case c == '\'' || c == '"':
		end := strings.IndexByte(p.s[p.pos+1:], c)
		if end < 0 {
			return nil, errors.New("unterminated string")
		}
		body := p.s[p.pos+1 : p.pos+1+end]
		p.pos += end + 2
		return interpolate(body)
	case strings.HasPrefix(p.s[p.pos:], "%{"):
		end := strings.IndexByte(p.s[p.pos:], '}')
		if end < 0 {
			return nil, errors.New("missing '}' after %{")
		}
		w, err := variable(p.s[p.pos+2 : p.pos+end])
		p.pos += end + 1
		return w, err
	case c >= '0' && c <= '9':
		start := p.pos
		for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
			p.pos++
		}
		n := p.s[start:p.pos]
		return func(*exprEnv) string { return n }, nil
	case isIdent(c):
		return nil, fmt.Errorf("function or name %q: %w", p.rest(), errUnsupported)
	}
	return nil, fmt.Errorf("unexpected %q", p.rest())
}

// interpolate compiles a quoted string's body, in which %{VAR} is replaced
// and a backslash escapes the next character.
func interpolate(s string) (word, error) {
	if !strings.Contains(s, "%{") && !strings.Contains(s, `\`) {
		return func(*exprEnv) string { return s }, nil
	}
	var parts []word
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t := lit.String()
			parts = append(parts, func(*exprEnv) string { return t })
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s):
			i++
			lit.WriteByte(s[i])
		case strings.HasPrefix(s[i:], "%{"):
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return nil, errors.New("missing '}' after %{")
			}
			w, err := variable(s[i+2 : i+end])
			if err != nil {
				return nil, err
			}
			flush()
			parts = append(parts, w)
			i += end
		default:
			lit.WriteByte(s[i])
		}
	}
	flush()
	return func(e *exprEnv) string {
		var b strings.Builder
		for _, w := range parts {
			b.WriteString(w(e))
		}
		return b.String()
	}, nil
}

// variable compiles %{NAME} or %{HTTP:Header}.
func variable(name string) (word, error) {
	if kind, arg, ok := strings.Cut(name, ":"); ok {
		if strings.EqualFold(kind, "HTTP") || strings.EqualFold(kind, "req") || strings.EqualFold(kind, "http") {
			p := headerParam(arg)
			if strings.EqualFold(arg, "Host") {
				return exprVars["HTTP_HOST"], nil
			}
			return func(e *exprEnv) string { return e.param(p) }, nil
		}
		return nil, fmt.Errorf("%%{%s}: %w", name, errUnsupported)
	}
	if w, ok := exprVars[strings.ToUpper(name)]; ok {
		return w, nil
	}
	return nil, fmt.Errorf("variable %%{%s}: %w", name, errUnsupported)
}
