package rewrite

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// addGoldenSeeds adds the main input file of every golden case to f's corpus.
func addGoldenSeeds(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*.txt")
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		before, _, _ := strings.Cut(string(data), goldenSeparator)
		if _, files := splitFiles(before); len(files) > 0 {
			f.Add(files[0].content)
		}
	}
	f.Add("a\\\r\nb\\")
	f.Add("<If \"x\">\n</If>")
}

// FuzzSplitLines checks that the logical lines cover the input exactly, in order.
func FuzzSplitLines(f *testing.F) {
	addGoldenSeeds(f)
	f.Fuzz(func(t *testing.T, data string) {
		var b strings.Builder
		next := 1
		for _, l := range splitLines(data) {
			if l.first != next || l.last < l.first {
				t.Fatalf("line numbers %d-%d, want the first to be %d", l.first, l.last, next)
			}
			next = l.last + 1
			b.WriteString(l.raw)
		}
		if b.String() != data {
			t.Fatalf("raw lines join to %q, want %q", b.String(), data)
		}
	})
}

// FuzzSite checks that Site never panics, that a configuration it reports no change for is copied
// byte for byte, and that rewriting its output again changes nothing.
func FuzzSite(f *testing.F) {
	addGoldenSeeds(f)
	f.Fuzz(func(t *testing.T, conf string) {
		if strings.Contains(strings.ToLower(conf), "include") {
			// An Include of "/" or "/*" reads the whole file system, as Apache would.
			return
		}
		dir := t.TempDir()
		src := filepath.Join(dir, "site.conf")
		if err := os.WriteFile(src, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		opts := Options{OutDir: filepath.Join(dir, "out"), Via: ViaFcgid, Mpgate: "/usr/bin/mpgate", RunDir: "/run/mpgate",
			LookupEnv: func(string) (string, bool) { return "", false }}
		res, err := Site(src, opts)
		if err != nil {
			return // a configuration Apache would reject too, or an Include of a missing file
		}
		out, err := os.ReadFile(res.Main)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Changes) == 0 && string(out) != conf {
			t.Fatalf("no change reported, but the copy differs:\n%q\nwant\n%q", out, conf)
		}
		for _, c := range res.Changes {
			if c.Kind == IncludeRewritten {
				return // the second pass would name other copies
			}
		}
		opts.OutDir = filepath.Join(dir, "out2")
		again, err := Site(res.Main, opts)
		if err != nil {
			t.Fatalf("rewriting the output again: %v\noutput:\n%s", err, out)
		}
		out2, err := os.ReadFile(again.Main)
		if err != nil {
			t.Fatal(err)
		}
		if string(out2) != string(out) || len(again.Changes) > 0 {
			t.Fatalf("rewriting again changed %v:\n%s\nfirst output:\n%s", again.Changes, out2, out)
		}
	})
}
