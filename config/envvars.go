// This file reads Debian's /etc/apache2/envvars, the shell fragment
// apache2ctl sources before starting httpd, for the ${APACHE_*} variables
// apache2.conf uses.

package config

import (
	"os"
	"strings"
)

// parseEnvVars returns the variables an envvars file exports. It understands
// what Debian's file uses: "export NAME=value", "NAME=value", "export NAME",
// single and double quotes, and $NAME / ${NAME} expansion from earlier
// assignments or the process environment. Everything else (if, unset, ".")
// is skipped, and assignments are taken in file order whatever branch they
// sit in, so the last one wins: Debian's "SUFFIX=" for the usual single
// instance.
func parseEnvVars(src []byte) map[string]string {
	vars := map[string]string{}
	exported := map[string]bool{}
	lookup := func(name string) string {
		if v, ok := vars[name]; ok {
			return v
		}
		return os.Getenv(name)
	}
	for _, raw := range strings.Split(string(src), "\n") {
		line := trimSpace(raw)
		if line == "" || line[0] == '#' {
			continue
		}
		export := false
		if rest, ok := strings.CutPrefix(line, "export "); ok {
			export = true
			line = trimSpace(rest)
		}
		eq := strings.IndexByte(line, '=')
		if eq < 0 {
			if export {
				for _, name := range strings.Fields(line) {
					if isShellName(name) {
						exported[name] = true
					}
				}
			}
			continue
		}
		name := line[:eq]
		if !isShellName(name) {
			continue
		}
		vars[name] = shellValue(line[eq+1:], lookup)
		if export {
			exported[name] = true
		}
	}
	out := make(map[string]string, len(exported))
	for name := range exported {
		if v, ok := vars[name]; ok {
			out[name] = v
		}
	}
	return out
}

func isShellName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || (i > 0 && '0' <= c && c <= '9') {
			continue
		}
		return false
	}
	return true
}

// shellValue evaluates the word after '=' up to the first unquoted blank,
// ';' or '#'.
func shellValue(s string, lookup func(string) string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == ';' || c == '#':
			return b.String()
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				b.WriteString(s[i+1:])
				return b.String()
			}
			b.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				switch {
				case s[i] == '\\' && i+1 < len(s) && strings.IndexByte("$`\"\\", s[i+1]) >= 0:
					i++
					b.WriteByte(s[i])
				case s[i] == '$':
					n := expandShell(s[i:], lookup, &b)
					i += n - 1
				default:
					b.WriteByte(s[i])
				}
			}
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case c == '$':
			n := expandShell(s[i:], lookup, &b)
			i += n - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// expandShell expands the $NAME or ${NAME...} at the start of s into b and
// returns how many bytes it used. Inside braces only the name is honoured;
// modifiers such as ${NAME##pattern} are ignored.
func expandShell(s string, lookup func(string) string, b *strings.Builder) int {
	if len(s) > 1 && s[1] == '{' {
		end := strings.IndexByte(s, '}')
		if end < 0 {
			b.WriteString(s)
			return len(s)
		}
		inner := s[2:end]
		j := 0
		for j < len(inner) && isShellName(inner[:j+1]) {
			j++
		}
		b.WriteString(lookup(inner[:j]))
		return end + 1
	}
	j := 1
	for j < len(s) && isShellName(s[1:j+1]) {
		j++
	}
	if j == 1 {
		b.WriteByte('$')
		return 1
	}
	b.WriteString(lookup(s[1:j]))
	return j
}
