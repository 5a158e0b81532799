package main

import "testing"

// TestPythonOptimize: under PythonOptimize On, mod_python starts Python with
// its optimize flag at 2 (python -OO), and so do mpgate's workers.
func TestPythonOptimize(t *testing.T) {
	_, conf, ref := referenceSite(t, "testdata/optimize")
	cases := []apiCase{get("", "/flags.py"), get("", "/flags.py?assert")}
	// The reference must show the flag, or the comparison proves nothing.
	if r := ref.Get(t, "/flags.py"); r.Status != 200 || string(r.Body) != "optimize=2\n__debug__=False\nmodule doc=None\nfunction doc=None\n" {
		t.Fatalf("mod_python under PythonOptimize On answered %d %q", r.Status, r.Body)
	}
	for _, via := range []string{"fcgid", "proxy"} {
		t.Run(via, func(t *testing.T) {
			got := preview(t, conf, via)
			for _, c := range cases {
				t.Run(c.title(), func(t *testing.T) { compareCase(t, ref, got, c) })
			}
		})
	}
}
