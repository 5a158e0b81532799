// This file splits a configuration file into logical lines and words the way Apache's
// ap_cfg_getline and ap_getword_conf do (server/util.c), keeping every byte of the original.

package rewrite

import (
	"strings"
)

// line is one logical line of a configuration file: one physical line, or several joined by
// continuations (a backslash right before the line ending).
type line struct {
	first, last int    // physical line numbers, 1-based
	raw         string // the bytes in the file, continuations and line ending included
	text        string // the logical line: continuations removed, line ending removed
	eol         string // the last physical line's ending: "\n", "\r\n", or "" at the end of the file
}

// trimmed returns the logical line without leading and trailing white space, as Apache parses it.
func (l line) trimmed() string { return strings.TrimSpace(l.text) }

// indent returns the white space that starts the line.
func (l line) indent() string {
	return l.raw[:len(l.raw)-len(strings.TrimLeft(l.raw, " \t"))]
}

// isComment reports whether the line is blank or a comment. A comment continues on the next
// physical line when it ends in a backslash, as any other line (verified with apache2 -t).
func (l line) isComment() bool {
	t := l.trimmed()
	return t == "" || t[0] == '#'
}

// splitLines splits data into logical lines. Every physical line ending in a backslash right before
// its line ending continues on the next one; the backslash and the line ending are dropped from
// text. This is what Apache 2.4.71 does, checked with apache2 -t: "\\" at the end also continues
// (one backslash is dropped), "\ " (a space after it) does not, and a line of only "\" continues.
func splitLines(data string) []line {
	var lines []line
	n := 1
	for i := 0; i < len(data); {
		l := line{first: n}
		start := i
		var text strings.Builder
		for {
			j := strings.IndexByte(data[i:], '\n')
			if j < 0 {
				text.WriteString(data[i:])
				i = len(data)
				l.eol = ""
				break
			}
			seg := data[i : i+j]
			i += j + 1
			l.eol = "\n"
			if strings.HasSuffix(seg, "\r") {
				seg = seg[:len(seg)-1]
				l.eol = "\r\n"
			}
			if strings.HasSuffix(seg, `\`) && i < len(data) {
				text.WriteString(seg[:len(seg)-1])
				n++
				continue
			}
			text.WriteString(seg)
			break
		}
		l.last = n
		l.raw = data[start:i]
		l.text = text.String()
		lines = append(lines, l)
		n++
	}
	return lines
}

// word is one argument of a directive as ap_getword_conf returns it.
type word struct {
	val    string // the argument with quotes and escapes removed
	quoted bool   // it was written in double or single quotes
}

// nextWord returns the first argument in s and what follows it, like ap_getword_conf: an argument
// in double or single quotes runs to the matching quote, where a backslash escapes the quote or a
// backslash; an unquoted one runs to the next white space, where "\\" stands for one backslash.
// ok is false when s holds only white space.
func nextWord(s string) (w word, rest string, ok bool) {
	s = strings.TrimLeft(s, " \t\r\n\f\v")
	if s == "" {
		return word{}, "", false
	}
	var b strings.Builder
	if q := s[0]; q == '"' || q == '\'' {
		i := 1
		for ; i < len(s) && s[i] != q; i++ {
			if s[i] == '\\' && i+1 < len(s) && (s[i+1] == q || s[i+1] == '\\') {
				i++
			}
			b.WriteByte(s[i])
		}
		if i < len(s) {
			i++ // the closing quote
		}
		return word{val: b.String(), quoted: true}, s[i:], true
	}
	i := 0
	for ; i < len(s) && !isSpace(s[i]); i++ {
		if s[i] == '\\' && i+1 < len(s) && s[i+1] == '\\' {
			i++
		}
		b.WriteByte(s[i])
	}
	return word{val: b.String()}, s[i:], true
}

// words returns every argument in s.
func words(s string) []word {
	var ws []word
	for {
		w, rest, ok := nextWord(s)
		if !ok {
			return ws
		}
		ws = append(ws, w)
		s = rest
	}
}

func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', '\f', '\v':
		return true
	}
	return false
}

// directive splits a non-comment logical line into its name and the text of its arguments.
func directive(l line) (name, args string) {
	t := l.trimmed()
	i := strings.IndexFunc(t, func(r rune) bool { return r < 0x80 && isSpace(byte(r)) })
	if i < 0 {
		return t, ""
	}
	return t[:i], strings.TrimSpace(t[i:])
}

// sectionLine describes a line that opens or closes a section ("<Directory /x>", "</Directory>").
type sectionLine struct {
	name  string // without "<" or "</", as written: "Directory", "IfModule"
	args  string // the text between the name and the final ">" of an opening line
	close bool
}

// parseSection reports whether the line opens or closes a section and, if so, returns it. An
// opening line must end with ">"; ok is true and err non-empty otherwise, as Apache rejects it.
func parseSection(l line) (s sectionLine, ok bool, err string) {
	t := l.trimmed()
	if len(t) < 2 || t[0] != '<' {
		return s, false, ""
	}
	if t[1] == '/' {
		name := strings.TrimSpace(strings.TrimSuffix(t[2:], ">"))
		return sectionLine{name: name, close: true}, true, ""
	}
	name, args := directive(line{text: t[1:]})
	if !strings.HasSuffix(t, ">") {
		return sectionLine{name: strings.TrimSuffix(name, ">")}, true, "<" + name + "> directive missing closing '>'"
	}
	if strings.HasSuffix(name, ">") && args == "" {
		return sectionLine{name: strings.TrimSuffix(name, ">")}, true, ""
	}
	return sectionLine{name: name, args: strings.TrimSpace(strings.TrimSuffix(args, ">"))}, true, ""
}
