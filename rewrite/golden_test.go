package rewrite

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the part of testdata/*.txt after the separator from the results")

// A golden file (testdata/*.txt) holds one case:
//
//	# what the case checks (comment lines)
//	via: proxy|fcgid              options, one per line: via, defines (names), env (NAME=VALUE...),
//	                              main (the main file, default site.conf), serverroot (default $SRC)
//	-- site.conf --               the input files, relative to $SRC
//	...
//	==== rewritten ====           the separator
//	-- site.conf --               the rewritten files, relative to $SRC
//	...
//	-- changes --                 Result.Changes, one per line, then "env: ..." (Result.Env)
//
// $SRC, $OUT (Options.OutDir), $RUN (the daemon's run directory) and $MPGATE (the mpgate program)
// stand for the test's directories, in the input and in the expected output.
const goldenSeparator = "==== rewritten ====\n"

var headerRE = regexp.MustCompile(`(?m)^-- (.+) --\n`)

type namedFile struct {
	name, content string
}

// splitFiles splits txtar-like text into a preamble and files.
func splitFiles(text string) (preamble string, files []namedFile) {
	locs := headerRE.FindAllStringSubmatchIndex(text, -1)
	if len(locs) == 0 {
		return text, nil
	}
	preamble = text[:locs[0][0]]
	for i, loc := range locs {
		end := len(text)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		files = append(files, namedFile{name: text[loc[2]:loc[3]], content: text[loc[1]:end]})
	}
	return preamble, files
}

type goldenCase struct {
	path     string
	before   string // everything up to and including the separator
	opts     map[string]string
	inputs   []namedFile
	expected string // everything after the separator
}

func readGolden(t *testing.T, path string) *goldenCase {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	i := strings.Index(text, goldenSeparator)
	if i < 0 {
		t.Fatalf("%s: no separator line %q", path, strings.TrimSpace(goldenSeparator))
	}
	c := &goldenCase{path: path, before: text[:i+len(goldenSeparator)], expected: text[i+len(goldenSeparator):], opts: map[string]string{}}
	preamble, inputs := splitFiles(text[:i])
	c.inputs = inputs
	for _, l := range strings.Split(preamble, "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			t.Fatalf("%s: preamble line %q is not KEY: VALUE", path, l)
		}
		c.opts[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	if len(c.inputs) == 0 {
		t.Fatalf("%s: no input files", path)
	}
	return c
}

// goldenEnv holds a case's directories.
type goldenEnv struct {
	base, src, out, run, mpgate string
}

func newGoldenEnv(t *testing.T) goldenEnv {
	base := shortTempDir(t)
	e := goldenEnv{base: base, src: base + "/src", out: base + "/out", run: base + "/run", mpgate: base + "/bin/mpgate"}
	for _, d := range []string{e.src, e.run, filepath.Dir(e.mpgate), base + "/apache"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// FcgidWrapper needs its program to exist when Apache reads the configuration.
	if err := os.WriteFile(e.mpgate, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e goldenEnv) expand(s string) string {
	return strings.NewReplacer("$SRC", e.src, "$OUT", e.out, "$RUN", e.run, "$MPGATE", e.mpgate).Replace(s)
}

func (e goldenEnv) abbreviate(s string) string {
	return strings.NewReplacer(e.out, "$OUT", e.src, "$SRC", e.run, "$RUN", e.mpgate, "$MPGATE").Replace(s)
}

// options returns the Options of a case.
func (e goldenEnv) options(t *testing.T, c *goldenCase, outDir string) Options {
	t.Helper()
	opts := Options{
		OutDir:     outDir,
		Via:        Via(c.opts["via"]),
		Socket:     e.run + "/mpgate.sock",
		Mpgate:     e.mpgate,
		RunDir:     e.run,
		ServerRoot: e.src,
		Args:       []string{"--python", "/usr/bin/python3"},
		LookupEnv:  func(name string) (string, bool) { v, ok := e.environ(c)[name]; return v, ok },
	}
	if sr, ok := c.opts["serverroot"]; ok {
		opts.ServerRoot = e.expand(sr)
	}
	if d := c.opts["defines"]; d != "" {
		opts.Defines = strings.Fields(d)
	}
	return opts
}

func (e goldenEnv) environ(c *goldenCase) map[string]string {
	env := map[string]string{}
	for _, kv := range strings.Fields(c.opts["env"]) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = e.expand(v)
	}
	return env
}

// render returns the part of a golden file after the separator for a result.
func (e goldenEnv) render(t *testing.T, res *Result) string {
	t.Helper()
	var b strings.Builder
	for _, f := range res.Files {
		data, err := os.ReadFile(f.Out)
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(e.out, f.Src); f.Out != want {
			t.Errorf("File{Src: %s}.Out = %s, want %s", f.Src, f.Out, want)
		}
		name := strings.TrimPrefix(f.Src, e.src+"/")
		fmt.Fprintf(&b, "-- %s --\n%s", e.abbreviate(name), e.abbreviate(string(data)))
	}
	b.WriteString("-- changes --\n")
	for _, c := range res.Changes {
		b.WriteString(e.abbreviate(c.String()) + "\n")
	}
	b.WriteString(strings.TrimSpace("env: "+strings.Join(res.Env, " ")) + "\n")
	return b.String()
}

func TestGolden(t *testing.T) {
	paths, err := filepath.Glob("testdata/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 12 {
		t.Fatalf("found %d golden files in testdata, want at least 12", len(paths))
	}
	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			t.Parallel()
			c := readGolden(t, path)
			e := newGoldenEnv(t)
			for _, f := range c.inputs {
				p := filepath.Join(e.src, e.expand(f.name))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(e.expand(f.content)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			main := c.opts["main"]
			if main == "" {
				main = "site.conf"
			}
			res, err := Site(filepath.Join(e.src, main), e.options(t, c, e.out))
			if err != nil {
				t.Fatalf("Site: %v", err)
			}
			got := e.render(t, res)
			if *update {
				if err := os.WriteFile(path, []byte(c.before+got), 0o644); err != nil {
					t.Fatal(err)
				}
			} else if got != c.expected {
				t.Errorf("Site(%s) differs from %s (rerun with -update and review the diff):\n%s", main, path, diff(c.expected, got))
			}
			checkApache(t, e, c, res.Main)
			checkIdempotent(t, e, c, res)
		})
	}
}

// checkApache runs apache2 -t on the rewritten configuration, without mod_python.
func checkApache(t *testing.T, e goldenEnv, c *goldenCase, main string) {
	t.Helper()
	var env []string
	for k, v := range e.environ(c) {
		env = append(env, k+"="+v)
	}
	conf := privateConf(e.base+"/apache", testModules, fmt.Sprintf("Include %q\n", main))
	if out, ok := apacheTest(t, e.base+"/apache", conf, env, strings.Fields(c.opts["defines"])); !ok {
		t.Errorf("apache2 -t on the rewritten %s failed:\n%s", main, out)
	}
}

// checkIdempotent rewrites the rewritten files again: the result must equal the first rewrite,
// except that Include lines name the new copies, and nothing but Includes may change.
func checkIdempotent(t *testing.T, e goldenEnv, c *goldenCase, first *Result) {
	t.Helper()
	out2 := e.base + "/out2"
	opts := e.options(t, c, out2)
	if sr, ok := c.opts["serverroot"]; ok {
		opts.ServerRoot = e.out + e.expand(sr)
	} else {
		opts.ServerRoot = e.out + e.src
	}
	second, err := Site(first.Main, opts)
	if err != nil {
		t.Fatalf("Site(%s) (the rewritten file): %v", first.Main, err)
	}
	for _, ch := range second.Changes {
		if ch.Kind != IncludeRewritten {
			t.Errorf("rewriting %s again changed more than an Include: %s", first.Main, ch)
		}
	}
	if len(second.Files) != len(first.Files) {
		t.Fatalf("rewriting again read %d files, the first rewrite %d", len(second.Files), len(first.Files))
	}
	for i, f := range first.Files {
		want, err := os.ReadFile(f.Out)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(second.Files[i].Out)
		if err != nil {
			t.Fatal(err)
		}
		if g := strings.ReplaceAll(string(got), out2+e.out, e.out); g != string(want) {
			t.Errorf("rewriting %s again gave a different file:\n%s", f.Out, diff(string(want), g))
		}
	}
	if !slices.Equal(first.Env, second.Env) {
		t.Errorf("Env after rewriting again = %v, want %v", second.Env, first.Env)
	}
}

// diff returns a line diff of want and got, good enough for golden files: the lines from the
// first difference on, marked - and +.
func diff(want, got string) string {
	w, g := strings.SplitAfter(want, "\n"), strings.SplitAfter(got, "\n")
	i := 0
	for i < len(w) && i < len(g) && w[i] == g[i] {
		i++
	}
	var b strings.Builder
	fmt.Fprintf(&b, "first difference at line %d of the expected part\n", i+1)
	for j := i; j < len(w) && j < i+25; j++ {
		b.WriteString("- " + w[j])
	}
	b.WriteString("\n")
	for j := i; j < len(g) && j < i+25; j++ {
		b.WriteString("+ " + g[j])
	}
	return b.String()
}
