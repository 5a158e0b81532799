// This file finds Apache and its modules on disk and installs the Debian packages that ship them
// when they are missing.

package apachetest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// apacheBin is Debian's httpd binary (package apache2-bin).
	apacheBin = "/usr/sbin/apache2"
	// modulesDir holds Debian's Apache modules: NAME is loaded from mod_NAME.so as NAME_module.
	modulesDir = "/usr/lib/apache2/modules"
	// aptLock serialises apt-get runs of concurrent test binaries (flock(2)); apt's own lock
	// would make the second binary fail instead of wait.
	aptLock = "/var/lock/mpgate-apt.lock"
	// aptTimeout bounds one apt-get run.
	aptTimeout = 10 * time.Minute
)

// aptPackages are installed together whenever anything Start needs is missing, so that a fresh
// machine runs apt-get once per test binary, not once per module.
var aptPackages = []string{"apache2-bin", "libapache2-mod-fcgid", "libapache2-mod-python"}

var install struct {
	mu     sync.Mutex // guards tried, output; held during an apt-get run
	tried  bool       // apt-get ran (successfully or not) in this process
	output string     // the tail of the last failed apt-get run, for error messages
}

// modulePath returns the shared object of the module NAME.
func modulePath(name string) string { return modulesDir + "/mod_" + name + ".so" }

// missingFiles returns what of apache2 and the modules is not on disk.
func missingFiles(modules []string) []string {
	var missing []string
	for _, f := range append([]string{apacheBin}, modulePaths(modules)...) {
		if _, err := os.Stat(f); err != nil {
			missing = append(missing, f)
		}
	}
	return missing
}

func modulePaths(modules []string) []string {
	paths := make([]string, len(modules))
	for i, m := range modules {
		paths[i] = modulePath(m)
	}
	return paths
}

// ensureInstalled makes sure apache2 and the modules exist, installing aptPackages with apt-get
// (as root) when they do not. It tries apt-get at most once per process; later calls only look at
// the disk again, so a machine without a package repository fails every test fast.
func ensureInstalled(modules []string) error {
	if len(missingFiles(modules)) == 0 {
		return nil
	}
	install.mu.Lock()
	defer install.mu.Unlock()
	missing := missingFiles(modules)
	if len(missing) == 0 {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("missing %s and not running as root, so cannot install it: run  sudo apt-get install -y %s",
			strings.Join(missing, ", "), strings.Join(aptPackages, " "))
	}
	if !install.tried {
		install.tried = true
		if err := aptInstall(); err != nil {
			install.output = err.Error()
		}
	}
	if missing := missingFiles(modules); len(missing) > 0 {
		if install.output != "" {
			return fmt.Errorf("missing %s, and installing it failed: %s", strings.Join(missing, ", "), install.output)
		}
		return fmt.Errorf("missing %s, which none of the installed packages %s provides", strings.Join(missing, ", "), strings.Join(aptPackages, ", "))
	}
	return nil
}

// aptInstall runs apt-get install for aptPackages (and media-types when /etc/mime.types is missing)
// under aptLock, running apt-get update first only if the plain install fails.
func aptInstall() error {
	if err := os.MkdirAll("/var/lock", 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(aptLock, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("open apt lock: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", aptLock, err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)

	pkgs := append([]string(nil), aptPackages...)
	if _, err := os.Stat("/etc/mime.types"); err != nil {
		pkgs = append(pkgs, "media-types")
	}
	// Another test binary may have installed everything while this one waited for the lock.
	if allInstalled(pkgs) {
		return nil
	}
	install := append([]string{"-y", "-q", "-o", "DPkg::Lock::Timeout=300", "install"}, pkgs...)
	if err := apt(install...); err == nil {
		return nil
	}
	if err := apt("-q", "-o", "DPkg::Lock::Timeout=300", "update"); err != nil {
		return err
	}
	return apt(install...)
}

// allInstalled reports whether dpkg knows every package as installed.
func allInstalled(pkgs []string) bool {
	args := append([]string{"-W", "-f=${db:Status-Abbrev}\n"}, pkgs...)
	out, err := exec.Command("dpkg-query", args...).Output()
	if err != nil {
		return false
	}
	return strings.Count(string(out), "ii ") == len(pkgs)
}

// apt runs apt-get non-interactively; its error carries the tail of apt-get's output.
func apt(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), aptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "apt-get", args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("apt-get %s: %v\n%s", strings.Join(args, " "), err, tail(out.String(), 15))
	}
	return nil
}
