// This file runs `apache2 -t` on configurations for the tests, installing Apache when missing.

package rewrite

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	apacheBin  = "/usr/sbin/apache2"
	modulesDir = "/usr/lib/apache2/modules"
	// aptLock is the lock internal/apachetest takes around apt-get, so that concurrent test
	// binaries wait for each other instead of failing on apt's own lock.
	aptLock = "/var/lock/mpgate-apt.lock"
)

// testModules are what a Debian Apache loads plus what mpgate's snippets need.
var testModules = []string{
	"mpm_event", "authz_core", "authz_host", "authn_core", "auth_basic", "mime", "dir", "alias",
	"env", "setenvif", "headers", "proxy", "proxy_fcgi", "fcgid",
}

var install struct {
	once sync.Once
	err  error
}

// needApache makes sure apache2 and mod_fcgid are installed, running apt-get as root if not.
func needApache(t *testing.T) {
	t.Helper()
	install.once.Do(func() { install.err = installApache() })
	if install.err != nil {
		t.Fatalf("apache2 is needed: %v", install.err)
	}
}

func missing() []string {
	var m []string
	for _, f := range []string{apacheBin, modulesDir + "/mod_proxy_fcgi.so", modulesDir + "/mod_fcgid.so", "/etc/mime.types"} {
		if _, err := os.Stat(f); err != nil {
			m = append(m, f)
		}
	}
	return m
}

func installApache() error {
	if len(missing()) == 0 {
		return nil
	}
	pkgs := []string{"apache2-bin", "libapache2-mod-fcgid", "media-types"}
	if os.Geteuid() != 0 {
		return fmt.Errorf("missing %s: run  sudo apt-get install -y %s", strings.Join(missing(), ", "), strings.Join(pkgs, " "))
	}
	f, err := os.OpenFile(aptLock, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	if len(missing()) == 0 {
		return nil
	}
	apt := func(args ...string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("apt-get %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	install := append([]string{"-y", "-q", "-o", "DPkg::Lock::Timeout=300", "install"}, pkgs...)
	if err := apt(install...); err != nil {
		if err := apt("-q", "update"); err != nil {
			return err
		}
		if err := apt(install...); err != nil {
			return err
		}
	}
	if m := missing(); len(m) > 0 {
		return fmt.Errorf("still missing after apt-get: %s", strings.Join(m, ", "))
	}
	return nil
}

// privateConf returns a server configuration with its ServerRoot in dir, loading modules, then
// extra. Nothing in it binds a port (there is no Listen): it is for apache2 -t.
func privateConf(dir string, modules []string, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ServerRoot %q\n", dir)
	fmt.Fprintf(&b, "ServerName 127.0.0.1\n")
	fmt.Fprintf(&b, "PidFile %q\n", filepath.Join(dir, "httpd.pid"))
	fmt.Fprintf(&b, "DefaultRuntimeDir %q\n", dir)
	fmt.Fprintf(&b, "ErrorLog %q\n", filepath.Join(dir, "error.log"))
	for _, m := range modules {
		fmt.Fprintf(&b, "LoadModule %s_module %s/mod_%s.so\n", m, modulesDir, m)
		if m == "fcgid" {
			fmt.Fprintf(&b, "FcgidIPCDir %q\n", filepath.Join(dir, "fcgid"))
			fmt.Fprintf(&b, "FcgidProcessTableFile %q\n", filepath.Join(dir, "fcgid_shm"))
		}
	}
	b.WriteString("TypesConfig /etc/mime.types\n")
	b.WriteString(extra)
	return b.String()
}

// apacheTest runs apache2 -t on the configuration conf (written to dir/httpd.conf) with the
// environment env added and the defines (-D NAME), and returns its output and whether it said
// "Syntax OK".
func apacheTest(t *testing.T, dir, conf string, env, defines []string) (string, bool) {
	t.Helper()
	needApache(t)
	path := filepath.Join(dir, "httpd.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-t", "-f", path}
	for _, d := range defines {
		args = append(args, "-D", d)
	}
	cmd := exec.Command(apacheBin, args...)
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err == nil && strings.Contains(out.String(), "Syntax OK")
}

// shortTempDir returns a new directory with a short path (unix socket paths hold 107 bytes),
// removed when the test ends.
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "rw-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
