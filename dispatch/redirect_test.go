package dispatch

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSplitPathInfo(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "app", "sub"), 0o755)
	os.WriteFile(filepath.Join(root, "app", "page.py"), nil, 0o644)
	for _, tc := range []struct{ file, filename, pathInfo string }{
		{root + "/app/page.py", root + "/app/page.py", ""},
		{root + "/app/page.py/more/x", root + "/app/page.py", "/more/x"},
		{root + "/app/page.py/more/", root + "/app/page.py", "/more/"},
		{root + "/app/sub/", root + "/app/sub", ""},
		{root + "/app/missing/x", root + "/app/missing", "/x"},
		{root + "//app//page.py", root + "/app/page.py", ""},
	} {
		f, pi := splitPathInfo(tc.file)
		if f != tc.filename || pi != tc.pathInfo {
			t.Errorf("splitPathInfo(%q) = %q, %q; want %q, %q", tc.file, f, pi, tc.filename, tc.pathInfo)
		}
	}
}
