// This file is the lexer: it cuts a configuration file into logical lines and
// lines into words exactly as Apache's util.c does (ap_cfg_getline,
// ap_getword_conf, ap_resolve_env in core.c).

package config

import "strings"

// cfgLine is one logical line: continuations joined, surrounding white space
// removed. Line is the number of its first physical line.
type cfgLine struct {
	text string
	line int
}

// isSpace is apr_isspace for the C locale.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func trimSpace(s string) string {
	i, j := 0, len(s)
	for i < j && isSpace(s[i]) {
		i++
	}
	for j > i && isSpace(s[j-1]) {
		j--
	}
	return s[i:j]
}

// splitLines cuts src into logical lines. A physical line whose last byte
// before "\n" (or "\r\n") is a backslash continues on the next one; the
// backslash and the newline are removed and nothing is inserted
// (ap_cfg_getline_core). Blank lines and lines starting with '#' are dropped.
// A NUL byte ends its line, as it would in C.
func splitLines(src []byte) []cfgLine {
	var out []cfgLine
	var cont []byte // continued line being assembled
	contStart := 0
	n := 0
	for len(src) > 0 {
		n++
		var phys []byte
		hasLF := false
		if i := indexByte(src, '\n'); i >= 0 {
			phys, src = src[:i], src[i+1:]
			hasLF = true
		} else {
			phys, src = src, nil
		}
		if hasLF && len(phys) > 0 && phys[len(phys)-1] == '\r' {
			phys = phys[:len(phys)-1]
		}
		if hasLF && len(phys) > 0 && phys[len(phys)-1] == '\\' {
			if cont == nil {
				contStart = n
				cont = make([]byte, 0, len(phys)*2)
			}
			cont = append(cont, phys[:len(phys)-1]...)
			continue
		}
		start := n
		var text string
		if cont != nil {
			cont = append(cont, phys...)
			text = string(cont)
			start = contStart
			cont = nil
		} else {
			text = string(phys)
		}
		if i := strings.IndexByte(text, 0); i >= 0 {
			text = text[:i]
		}
		text = trimSpace(text)
		if text == "" || text[0] == '#' {
			continue
		}
		out = append(out, cfgLine{text: text, line: start})
	}
	if cont != nil { // file ends inside a continuation
		text := trimSpace(string(cont))
		if i := strings.IndexByte(text, 0); i >= 0 {
			text = trimSpace(text[:i])
		}
		if text != "" && text[0] != '#' {
			out = append(out, cfgLine{text: text, line: contStart})
		}
	}
	return out
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// getwordConf returns the first word of s and the rest after the white space
// that follows it, like ap_getword_conf: a word is either quoted with " or '
// (a backslash escapes the quote or a backslash; an unterminated quote runs to
// the end) or runs to the next white space (where only "\\" is unescaped).
func getwordConf(s string) (word, rest string) {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	s = s[i:]
	if s == "" {
		return "", ""
	}
	var end, next int
	var quote byte
	if q := s[0]; q == '"' || q == '\'' {
		quote = q
		j := 1
		for j < len(s) && s[j] != quote {
			if s[j] == '\\' && j+1 < len(s) && (s[j+1] == quote || s[j+1] == '\\') {
				j += 2
			} else {
				j++
			}
		}
		word = unescapeConf(s[1:j], quote)
		end = j
		if end < len(s) {
			end++ // the closing quote
		}
		next = end
	} else {
		j := 0
		for j < len(s) && !isSpace(s[j]) {
			j++
		}
		word = unescapeConf(s[:j], 0)
		next = j
	}
	for next < len(s) && isSpace(s[next]) {
		next++
	}
	return word, s[next:]
}

// unescapeConf is substring_conf: a backslash followed by a backslash, or by
// the quote character of a quoted word, stands for that character.
func unescapeConf(s string, quote byte) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '\\' || (quote != 0 && s[i+1] == quote)) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// words splits s with getwordConf until nothing is left.
func words(s string) []string {
	var out []string
	for {
		var w string
		w, s = getwordConf(s)
		if w == "" && s == "" {
			return out
		}
		out = append(out, w)
	}
}

// resolveEnv replaces every ${NAME} in s by lookup(NAME), like
// ap_resolve_env: the result is not rescanned, a '$' not followed by
// "{...}" stays, and an unknown name stays as written (undefined is then
// called with the name, unless it contains ':', which Apache keeps silent).
func resolveEnv(s string, lookup func(string) (string, bool), undefined func(string)) string {
	if strings.IndexByte(s, '$') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for {
		i := strings.IndexByte(s, '$')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		s = s[i:]
		if len(s) > 1 && s[1] == '{' {
			if e := strings.IndexByte(s[2:], '}'); e >= 0 {
				name := s[2 : 2+e]
				if v, ok := lookup(name); ok {
					b.WriteString(v)
				} else {
					if strings.IndexByte(name, ':') < 0 && undefined != nil {
						undefined(name)
					}
					b.WriteString(s[:e+3])
				}
				s = s[e+3:]
				continue
			}
		}
		b.WriteByte('$')
		s = s[1:]
	}
}

// fnmatch flags, as in apr_fnmatch.
const (
	fnmPathname = 1 << iota // '*', '?' and brackets do not match '/'
	fnmPeriod               // a leading '.' must be matched by a literal '.'
	fnmCaseBlind
)

// fnmatchTest reports whether pattern has wildcards (apr_fnmatch_test): '*',
// '?', or a '[' with a later ']'.
func fnmatchTest(pattern string) bool {
	nesting := 0
	for i := 0; i < len(pattern); i++ {
		switch pattern[i] {
		case '?', '*':
			return true
		case '\\':
			i++
			if i >= len(pattern) {
				return false
			}
		case '[':
			nesting++
		case ']':
			if nesting > 0 {
				return true
			}
		}
	}
	return false
}

// fnmatch reports whether s matches the shell pattern, with apr_fnmatch's
// syntax: '*', '?', '[...]' with '!' or '^' negation and ranges, '\' escapes.
// It does not allocate.
func fnmatch(pattern, s string, flags int) bool {
	p, i := 0, 0
	starP, starI := -1, -1 // backtrack point for the last '*'
	for {
		if p < len(pattern) {
			c := pattern[p]
			atStart := i == 0 || (flags&fnmPathname != 0 && s[i-1] == '/')
			switch c {
			case '*':
				if flags&fnmPeriod != 0 && atStart && i < len(s) && s[i] == '.' {
					break // a leading period needs a literal '.'
				}
				starP, starI = p, i
				p++
				continue
			case '?':
				if i < len(s) && !(flags&fnmPathname != 0 && s[i] == '/') &&
					!(flags&fnmPeriod != 0 && atStart && s[i] == '.') {
					p++
					i++
					continue
				}
			case '[':
				if i < len(s) && !(flags&fnmPathname != 0 && s[i] == '/') &&
					!(flags&fnmPeriod != 0 && atStart && s[i] == '.') {
					if ok, np, valid := matchBracket(pattern, p, s[i], flags); valid {
						if ok {
							p = np
							i++
							continue
						}
						break
					}
				}
				// an unterminated '[' is a literal
				if i < len(s) && s[i] == '[' {
					p++
					i++
					continue
				}
			default:
				if c == '\\' && p+1 < len(pattern) {
					p++
					c = pattern[p]
				}
				if i < len(s) && eqByte(c, s[i], flags) {
					p++
					i++
					continue
				}
			}
		} else if i == len(s) {
			return true
		}
		// mismatch: extend the last '*' by one byte, unless that byte is a '/'
		// it may not cross
		if starP < 0 || starI >= len(s) || (flags&fnmPathname != 0 && s[starI] == '/') {
			return false
		}
		starI++
		p, i = starP+1, starI
	}
}

func eqByte(a, b byte, flags int) bool {
	if a == b {
		return true
	}
	if flags&fnmCaseBlind != 0 {
		return lower(a) == lower(b)
	}
	return false
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// matchBracket matches c against the bracket expression starting at
// pattern[p] == '['. valid is false when the expression has no closing ']'.
func matchBracket(pattern string, p int, c byte, flags int) (ok bool, next int, valid bool) {
	p++
	negate := false
	if p < len(pattern) && (pattern[p] == '!' || pattern[p] == '^') {
		negate = true
		p++
	}
	first := true
	for p < len(pattern) {
		lo := pattern[p]
		if lo == ']' && !first {
			return ok != negate, p + 1, true
		}
		first = false
		if lo == '\\' && p+1 < len(pattern) {
			p++
			lo = pattern[p]
		}
		p++
		hi := lo
		if p+1 < len(pattern) && pattern[p] == '-' && pattern[p+1] != ']' {
			hi = pattern[p+1]
			if hi == '\\' && p+2 < len(pattern) {
				p++
				hi = pattern[p+1]
			}
			p += 2
		}
		if lo <= c && c <= hi {
			ok = true
		} else if flags&fnmCaseBlind != 0 && lower(lo) <= lower(c) && lower(c) <= lower(hi) {
			ok = true
		}
	}
	return false, 0, false
}

// strcasecmpMatch is ap_strcasecmp_match's notion of a match (ServerAlias
// wildcards): '*' matches any run of bytes, '/' included, '?' one byte,
// letters compare case-insensitively; there are no brackets or escapes.
func strcasecmpMatch(s, pattern string) bool {
	p, i := 0, 0
	starP, starI := -1, -1
	for {
		if p < len(pattern) {
			switch c := pattern[p]; {
			case c == '*':
				starP, starI = p, i
				p++
				continue
			case i < len(s) && (c == '?' || lower(c) == lower(s[i])):
				p++
				i++
				continue
			}
		} else if i == len(s) {
			return true
		}
		if starP < 0 || starI >= len(s) {
			return false
		}
		starI++
		p, i = starP+1, starI
	}
}
