package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const checkPrefix = "-- check"

// TestCheckGolden runs Check on each testdata/check file: a configuration,
// a "-- check" line, then the expected output, followed by "-- error: ..."
// when Check must fail.
func TestCheckGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/check/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			conf, want, ok := strings.Cut(string(b), checkPrefix+"\n")
			if !ok {
				t.Fatalf("%s: no %q line", file, checkPrefix)
			}
			root, err := filepath.Abs("testdata")
			if err != nil {
				t.Fatal(err)
			}
			c, _ := Parse("httpd.conf", []byte(conf), Options{ServerRoot: filepath.Join(root, "include-root"), Logger: testLogger(t)})
			if c == nil {
				t.Fatal("Parse returned no Config")
			}
			var buf bytes.Buffer
			if err := Check(c, &buf); err != nil {
				buf.WriteString("-- error: " + err.Error() + "\n")
			}
			got := strings.ReplaceAll(buf.String(), root, "$TESTDATA")
			if *update {
				if err := os.WriteFile(file, []byte(conf+checkPrefix+"\n"+got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != want {
				t.Errorf("Check:\n--- got\n%s--- want\n%s", got, want)
			}
		})
	}
}
