package config

import (
	"bytes"
	"flag"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// goldenCase is one testdata/explain file: a configuration, optional
// "-- options:" lines, and "-- query:" lines each followed by the expected
// output of Explain.
type goldenCase struct {
	conf    string
	options []string
	queries []string
	want    []string
}

const (
	optionsPrefix = "-- options:"
	queryPrefix   = "-- query:"
)

func readGolden(t *testing.T, file string) goldenCase {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var g goldenCase
	var conf, cur strings.Builder
	inQuery := false
	for _, line := range strings.SplitAfter(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, optionsPrefix):
			g.options = append(g.options, strings.TrimSpace(strings.TrimPrefix(line, optionsPrefix)))
		case strings.HasPrefix(line, queryPrefix):
			if inQuery {
				g.want = append(g.want, cur.String())
				cur.Reset()
			}
			inQuery = true
			g.queries = append(g.queries, strings.TrimSpace(strings.TrimPrefix(line, queryPrefix)))
		case inQuery:
			cur.WriteString(line)
		default:
			conf.WriteString(line)
		}
	}
	if inQuery {
		g.want = append(g.want, cur.String())
	}
	g.conf = conf.String()
	if len(g.queries) == 0 {
		t.Fatalf("%s: no %q line", file, queryPrefix)
	}
	return g
}

// goldenOptions turns "-- options:" words into Options. serverroot is
// relative to testdata/.
func goldenOptions(t *testing.T, lines []string) (Options, string) {
	t.Helper()
	var o Options
	root, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	o.ServerRoot = filepath.Join(root, "empty-root")
	for _, l := range lines {
		for _, w := range strings.Fields(l) {
			k, v, _ := strings.Cut(w, "=")
			switch k {
			case "serverroot":
				o.ServerRoot = filepath.Join(root, v)
			case "define":
				o.Defines = append(o.Defines, v)
			case "module":
				o.Modules = append(o.Modules, v)
			case "envvars":
				o.EnvVarsFile = filepath.Join(root, v)
			default:
				t.Fatalf("unknown option %q", w)
			}
		}
	}
	return o, root
}

func parseQuery(t *testing.T, s string) Query {
	t.Helper()
	q := Query{LocalAddr: "10.0.0.1", LocalPort: 80}
	for _, w := range strings.Fields(s) {
		k, v, _ := strings.Cut(w, "=")
		v, err := url.PathUnescape(v)
		if err != nil {
			t.Fatalf("query %q: %v", s, err)
		}
		switch k {
		case "uri":
			q.URI = v
		case "filename":
			q.Filename = v
		case "host":
			q.Host = v
		case "addr":
			q.LocalAddr = v
		case "port":
			p, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("query %q: %v", s, err)
			}
			q.LocalPort = p
		case "vhost":
			q.VHost = v
		case "method":
			q.Method = v
		case "query":
			q.QueryString = v
		default:
			t.Fatalf("query %q: unknown key %q", s, k)
		}
	}
	return q
}

func TestExplainGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/explain/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			g := readGolden(t, file)
			opts, root := goldenOptions(t, g.options)
			opts.Logger = testLogger(t)
			c, err := Parse("httpd.conf", []byte(g.conf), opts)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			var got []string
			for _, qs := range g.queries {
				m := c.Lookup(parseQuery(t, qs))
				var buf bytes.Buffer
				if err := m.Explain(&buf); err != nil {
					t.Fatal(err)
				}
				for _, w := range c.Warnings {
					buf.WriteString("warning: " + w.String() + "\n")
				}
				got = append(got, strings.ReplaceAll(buf.String(), root, "$TESTDATA"))
			}
			if *update {
				writeGolden(t, file, g, got)
				return
			}
			for i := range g.queries {
				if got[i] != g.want[i] {
					t.Errorf("query %q:\n--- got\n%s--- want\n%s", g.queries[i], got[i], g.want[i])
				}
			}
		})
	}
}

func writeGolden(t *testing.T, file string, g goldenCase, got []string) {
	t.Helper()
	var b strings.Builder
	b.WriteString(g.conf)
	for _, o := range g.options {
		b.WriteString(optionsPrefix + " " + o + "\n")
	}
	for i, q := range g.queries {
		b.WriteString(queryPrefix + " " + q + "\n")
		b.WriteString(got[i])
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
