package config

import (
	"os"
	"reflect"
	"testing"
)

func TestSplitLines(t *testing.T) {
	src := "# comment\n" +
		"  ServerName a  \r\n" +
		"\n" +
		"PythonOption a \\\n" +
		"  b\n" +
		"PythonOption c \\ \n" + // a backslash followed by a space does not continue
		"   # indented comment\n" +
		"X y\x00 ignored\n" +
		"Last \\\n"
	want := []cfgLine{
		{"ServerName a", 2},
		{"PythonOption a   b", 4},
		{"PythonOption c \\", 6},
		{"X y", 8},
		{"Last", 9},
	}
	if got := splitLines([]byte(src)); !reflect.DeepEqual(got, want) {
		t.Errorf("splitLines:\n got %q\nwant %q", got, want)
	}
}

func TestGetwordConf(t *testing.T) {
	tests := []struct {
		in, word, rest string
	}{
		{"", "", ""},
		{"  a b", "a", "b"},
		{`"a b" c`, "a b", "c"},
		{`'a "b"'  c`, `a "b"`, "c"},
		{`"say \"hi\"" x`, `say "hi"`, "x"},
		{`"back\\slash"`, `back\slash`, ""},
		{`a\\b`, `a\b`, ""},
		{`a\"b`, `a\"b`, ""},
		{`"unterminated x`, "unterminated x", ""},
		{`"" x`, "", "x"},
		{"a\tb", "a", "b"},
	}
	for _, tt := range tests {
		w, r := getwordConf(tt.in)
		if w != tt.word || r != tt.rest {
			t.Errorf("getwordConf(%q) = %q, %q, want %q, %q", tt.in, w, r, tt.word, tt.rest)
		}
	}
}

func TestResolveEnv(t *testing.T) {
	vars := map[string]string{"A": "1", "NESTED": "${A}"}
	lookup := func(n string) (string, bool) { v, ok := vars[n]; return v, ok }
	tests := []struct {
		in, want  string
		undefined []string
	}{
		{"no vars", "no vars", nil},
		{"${A}x${A}", "1x1", nil},
		{"${NESTED}", "${A}", nil}, // not rescanned
		{"$A ${ } $", "$A ${ } $", []string{" "}},
		{"${MISSING}/x", "${MISSING}/x", []string{"MISSING"}},
		{"${map:key}", "${map:key}", nil},
		{"${unterminated", "${unterminated", nil},
	}
	for _, tt := range tests {
		var undefined []string
		got := resolveEnv(tt.in, lookup, func(n string) { undefined = append(undefined, n) })
		if got != tt.want || !reflect.DeepEqual(undefined, tt.undefined) {
			t.Errorf("resolveEnv(%q) = %q (undefined %q), want %q (undefined %q)", tt.in, got, undefined, tt.want, tt.undefined)
		}
	}
}

func TestFnmatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		flags      int
		want       bool
	}{
		{"*.conf", "a.conf", 0, true},
		{"*.conf", ".a.conf", fnmPeriod, false},
		{".*.conf", ".a.conf", fnmPeriod, true},
		{"*.conf", ".a.conf", 0, true},
		{"/srv/*/public/", "/srv/ann/public/", fnmPathname, true},
		{"/srv/*/public/", "/srv/a/b/public/", fnmPathname, false},
		{"/srv/*", "/srv/a/b", 0, true},
		{"/srv/*", "/srv/a/b", fnmPathname, false},
		{"a?c", "abc", 0, true},
		{"a?c", "a/c", fnmPathname, false},
		{"[a-c]x", "bx", 0, true},
		{"[!a-c]x", "bx", 0, false},
		{"[^a-c]x", "dx", 0, true},
		{"[]]", "]", 0, true},
		{"[", "[", 0, true},
		{`\*`, "*", 0, true},
		{`\*`, "a", 0, false},
		{"*a*b*c", "xxaxxbxxc", 0, true},
		{"*a*b*c", "xxaxxbxx", 0, false},
		{"ABC", "abc", fnmCaseBlind, true},
		{"", "", 0, true},
		{"*", "", 0, true},
	}
	for _, tt := range tests {
		if got := fnmatch(tt.pattern, tt.s, tt.flags); got != tt.want {
			t.Errorf("fnmatch(%q, %q, %d) = %t, want %t", tt.pattern, tt.s, tt.flags, got, tt.want)
		}
	}
}

func TestFnmatchTest(t *testing.T) {
	for s, want := range map[string]bool{"/a/b": false, "/a/*": true, "a?": true, "[ab]": true, "[ab": false, `\*`: false, "x]": false} {
		if got := fnmatchTest(s); got != want {
			t.Errorf("fnmatchTest(%q) = %t, want %t", s, got, want)
		}
	}
}

func TestStrcasecmpMatch(t *testing.T) {
	tests := []struct {
		s, pattern string
		want       bool
	}{
		{"www.example.com", "*.example.com", true},
		{"a.b.example.com", "*.example.com", true},
		{"example.com", "*.example.com", false},
		{"WWW.Example.COM", "*.example.com", true},
		{"shop2.example", "shop?.example", true},
		{"shop22.example", "shop?.example", false},
	}
	for _, tt := range tests {
		if got := strcasecmpMatch(tt.s, tt.pattern); got != tt.want {
			t.Errorf("strcasecmpMatch(%q, %q) = %t, want %t", tt.s, tt.pattern, got, tt.want)
		}
	}
}

func TestParseEnvVars(t *testing.T) {
	b, err := os.ReadFile("testdata/envvars")
	if err != nil {
		t.Fatal(err)
	}
	got := parseEnvVars(b)
	want := map[string]string{
		"APACHE_RUN_USER":  "www-data",
		"APACHE_RUN_GROUP": "www-data",
		"APACHE_PID_FILE":  "/var/run/apache2/apache2.pid",
		"APACHE_RUN_DIR":   "/var/run/apache2",
		"APACHE_LOCK_DIR":  "/var/lock/apache2",
		"APACHE_LOG_DIR":   "/var/log/apache2",
		"LANG":             "C",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseEnvVars(testdata/envvars) = %v, want %v", got, want)
	}
	got = parseEnvVars([]byte("X='a b'\nexport Y=\"$X-${X}\" # comment\nexport Z=plain;rest\n"))
	want = map[string]string{"Y": "a b-a b", "Z": "plain"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseEnvVars(quotes) = %v, want %v", got, want)
	}
}
