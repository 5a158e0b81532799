package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mpgate/mpgate/internal/apachetest"
)

// This file is the differential suite of the worker life cycle (issue 5):
// mod_python 3.5's own test_import, test_srv_register_cleanup,
// test_apache_register_cleanup and test_apache_exists_config_define
// (grisha/mod_python test/test.py; mod_python.md §6.2, §6.4) ported to
// testdata/lifecycle, one <VirtualHost> per test, and mpgate's own cases in
// the site's default host. mod_python runs PythonImports when an Apache child
// starts and server cleanups when it exits; mpgate runs them when a worker
// starts (before its first request) and when it stops: reload (SIGHUP,
// `mpgate reload`), daemon stop (SIGTERM, `mpgate stop`), and the pool's
// reaping of idle workers (dispatch's tests). What they log must reach the
// error log the site owner reads, as mod_python's lines reach Apache's.

// gapSysModules is a deliberate difference (docs/compat.md): site modules,
// the PythonImport ones included, are keyed by path and kept out of
// sys.modules, so test_import's `"dummymodule" in sys.modules` is false under
// mpgate. What the test is about (the module imported once at start, the
// function called, the main server's options kept, sys.path set once) is
// checked by the default host's "imports" case.
const gapSysModules = `site modules are kept out of sys.modules (docs/compat.md): import_test's "dummymodule" in sys.modules is false`

// lifecycleCases are the requests of the suite, sent once before the
// workers are replaced and once after.
var lifecycleCases = []apiCase{
	{method: "GET", path: "/", host: "test_import", gap: gapSysModules},
	get("test_srv_register_cleanup", "/"),
	get("test_apache_register_cleanup", "/"),
	get("test_apache_exists_config_define", "/"),
	get("", "/?imports"),
	get("", "/?defines"),
	get("", "/?cleanups"),
}

// importLogs are what the PythonImports of testdata/lifecycle log when a
// child (a worker) starts: dummymodule's own lines, lcmodule's in the default
// host's interpreter and in one no request uses, and the two that fail.
var importLogs = []string{
	"dummymodule / test_import",
	"dummymodule::function / test_import",
	"lcmodule loaded / lifecycle",
	"lcmodule::init / lifecycle",
	"lcmodule::init / lifecycle_unused",
	"RuntimeError: lcmodule::boom fails on purpose",
	"directive_PythonImport: error importing lcmodule::boom",
	"ModuleNotFoundError: No module named 'nosuchmodule_lifecycle'",
	"directive_PythonImport: error importing nosuchmodule_lifecycle",
}

// cleanupLogs are what the cleanups registered by lifecycleCases log when the
// child (the worker) stops, the lifecycle host's in the order they run: last
// registered first, a failing one reported by python_cleanup.
var cleanupLogs = []string{
	"srv_register_cleanup test ok",
	"apache_register_cleanup test ok",
	"lifecycle cleanup ran: second registered",
	"python_cleanup: Error calling cleanup object <function _failing_cleanup at 0x",
	"    <class 'RuntimeError'>: lifecycle cleanup fails on purpose: apache.register_cleanup",
	"lifecycle cleanup ran: first registered",
}

// TestLifecycle sends lifecycleCases to real mod_python and to mpgate
// (mod_fcgid and mod_proxy_fcgi), checks that both logged the PythonImports
// at start, replaces mpgate's workers (SIGHUP behind mod_proxy_fcgi,
// `mpgate reload` behind mod_fcgid) and finds the cleanups' lines, sends the
// cases again and stops the daemon (SIGTERM, `mpgate stop`), and finally
// stops the reference Apache and finds the same lines in its error log.
func TestLifecycle(t *testing.T) {
	_, conf, ref := referenceSite(t, "testdata/lifecycle")
	for _, via := range []string{"fcgid", "proxy"} {
		t.Run(via, func(t *testing.T) {
			got, run := previewRun(t, conf, via)
			gotLog := filepath.Join(run, "logs", "error.log")
			daemonRun := filepath.Join(run, "run")
			for _, c := range lifecycleCases {
				t.Run(c.title(), func(t *testing.T) { compareCase(t, ref, got, c) })
			}
			// The daemon started the interpreters its PythonImports name.
			for _, l := range importLogs {
				waitFileContains(t, gotLog, l, 30*time.Second)
			}

			// Replacing the workers runs the cleanups of the old ones, and
			// the PythonImports of the new ones.
			if via == "proxy" {
				signalDaemon(t, daemonRun, syscall.SIGHUP)
			} else {
				mpgateControl(t, daemonRun, "reload")
			}
			waitFileContains(t, gotLog, "workers replaced", 60*time.Second)
			for _, l := range cleanupLogs {
				waitFileCount(t, gotLog, l, 1, 30*time.Second)
			}
			checkOrder(t, "mpgate's error log after the reload", readFile(t, gotLog), cleanupLogs[2:])
			waitFileCount(t, gotLog, "dummymodule::function / test_import", 2, 30*time.Second)

			for _, c := range lifecycleCases {
				t.Run("again "+c.title(), func(t *testing.T) { compareCase(t, ref, got, c) })
			}
			// Stopping the daemon stops its workers, which run their cleanups.
			if via == "proxy" {
				signalDaemon(t, daemonRun, syscall.SIGTERM)
			} else {
				mpgateControl(t, daemonRun, "stop")
			}
			waitFileContains(t, gotLog, "mpgate stopped", 60*time.Second)
			for _, l := range cleanupLogs {
				waitFileCount(t, gotLog, l, 2, time.Second)
			}
		})
	}

	// mod_python logs its PythonImports at child start and runs the server
	// cleanups when the child exits, at Apache's stop.
	ref.Stop()
	refLog := ref.ErrorLog()
	for _, l := range append(append([]string(nil), importLogs...), cleanupLogs...) {
		if !strings.Contains(refLog, l) {
			t.Errorf("mod_python's error log has no %q", l)
		}
	}
	checkOrder(t, "mod_python's error log", refLog, cleanupLogs[2:])
}

// TestLifecycleDefines ports test_apache_exists_config_define's second half:
// FOOBAR defined. mod_python's harness starts httpd with -DFOOBAR; the
// reference here has `Define FOOBAR` in its configuration, which
// ap_exists_config_define answers alike. mpgate gets the name either way:
// `mpgate preview -D FOOBAR` (mpgate serve -D, for Apache and the daemon),
// or the Define in the site's configuration.
func TestLifecycleDefines(t *testing.T) {
	dir, conf := stageSiteFrom(t, "testdata/lifecycle")
	src, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	defined := string(src) + "\nDefine FOOBAR\n"
	confDefined := filepath.Join(dir, "site-foobar.conf")
	if err := os.WriteFile(confDefined, []byte(defined), 0o644); err != nil {
		t.Fatal(err)
	}
	ref := apachetest.ModPython(t, defined, nil)
	cases := []apiCase{get("test_apache_exists_config_define", "/"), get("", "/?defines")}
	for _, via := range []string{"fcgid", "proxy"} {
		for _, how := range []string{"-D", "Define"} {
			t.Run(via+" "+how, func(t *testing.T) {
				var got *apachetest.Server
				if how == "-D" {
					got, _ = previewRunArgs(t, conf, via, "-D", "FOOBAR")
				} else {
					got, _ = previewRun(t, confDefined, via)
				}
				for _, c := range cases {
					t.Run(c.title(), func(t *testing.T) { compareCase(t, ref, got, c) })
				}
			})
		}
	}
}

// mpgateControl runs `mpgate CMD --run-dir run` and fails the test if it
// fails.
func mpgateControl(t *testing.T, run, cmd string) {
	t.Helper()
	out, err := exec.Command(mpgateBin, cmd, "--run-dir", run).CombinedOutput()
	if err != nil {
		t.Fatalf("mpgate %s --run-dir %s: %v\n%s", cmd, run, err, out)
	}
}

// signalDaemon sends sig to the daemon whose pid file is in run.
func signalDaemon(t *testing.T, run string, sig syscall.Signal) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(run, "mpgate.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file %s: %v", filepath.Join(run, "mpgate.pid"), err)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		t.Fatalf("kill -%d %d: %v", sig, pid, err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitFileCount waits until the file at path holds substr exactly n times,
// and fails if it holds it more often or not n times within timeout.
func waitFileCount(t *testing.T, path, substr string, n int, timeout time.Duration) {
	t.Helper()
	waitFile(t, path, timeout, func(b []byte) (bool, bool, string) {
		c := bytes.Count(b, []byte(substr))
		return c == n, c > n, fmt.Sprintf("holds %q %d times, want %d", substr, c, n)
	})
}

// checkOrder checks that the first occurrences of lines in text come in
// their order.
func checkOrder(t *testing.T, what, text string, lines []string) {
	t.Helper()
	last := -1
	for _, l := range lines {
		i := strings.Index(text, l)
		if i < 0 {
			t.Errorf("%s: no %q", what, l)
			return
		}
		if i < last {
			t.Errorf("%s: %q comes before the line preceding it in %q", what, l, lines)
			return
		}
		last = i
	}
}
