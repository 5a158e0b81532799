package main

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpgate/mpgate/internal/apachetest"
	"github.com/mpgate/mpgate/internal/fcgitest"
)

// waitFor polls cond every 10 ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		<-tick.C
	}
}

// miniSite writes a one-handler site and returns its directory and conf.
func miniSite(t *testing.T) (dir, conf string) {
	dir = apachetest.TempDir(t) // workers run as www-data when the tests run as root
	os.MkdirAll(filepath.Join(dir, "app"), 0o755)
	os.WriteFile(filepath.Join(dir, "app", "h.py"), []byte(`
import os
from mod_python import apache
def handler(req):
    req.content_type = "text/plain"
    req.write("pid=%d\n" % os.getpid())
    return apache.OK
`), 0o644)
	conf = filepath.Join(dir, "site.conf")
	os.WriteFile(conf, []byte("DocumentRoot "+dir+"\n<Directory "+dir+"/app>\n SetHandler mod_python\n PythonHandler h\n</Directory>\n"), 0o644)
	return dir, conf
}

// startServe runs `mpgate serve` and returns when its socket answers, with
// a channel closed when the daemon has exited.
func startServe(t *testing.T, conf, run string, extra ...string) (*exec.Cmd, <-chan struct{}) {
	t.Helper()
	cmd := exec.Command(mpgateBin, append([]string{"serve", "--config", conf, "--run-dir", run}, extra...)...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Errorf("mpgate serve did not stop on SIGINT")
		}
		if t.Failed() {
			t.Logf("mpgate serve output:\n%s", out.String())
		}
	})
	waitFor(t, 30*time.Second, "the daemon's socket", func() bool {
		select {
		case <-exited:
			t.Fatalf("mpgate serve exited at start:\n%s", out.String())
		default:
		}
		c, err := net.Dial("unix", filepath.Join(run, "mpgate.sock"))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return cmd, exited
}

func control(t *testing.T, run string, args ...string) (controlReply, string, error) {
	t.Helper()
	out, err := exec.Command(mpgateBin, append(args, "--run-dir", run)...).CombinedOutput()
	var rep controlReply
	if i := strings.Index(string(out), "{"); i >= 0 {
		json.NewDecoder(strings.NewReader(string(out[i:]))).Decode(&rep)
	}
	return rep, string(out), err
}

// TestControlSocket: status, reload (good and broken configuration), stop,
// and one daemon per run directory.
func TestControlSocket(t *testing.T) {
	dir, conf := miniSite(t)
	run := filepath.Join(dir, "run")
	cmd, exited := startServe(t, conf, run)

	rep, out, err := control(t, run, "status")
	if err != nil || !rep.OK || rep.PID != cmd.Process.Pid || len(rep.Pools) != 1 {
		t.Fatalf("mpgate status = %v %q, want ok with pid %d and the warm pool", err, out, cmd.Process.Pid)
	}
	if _, out, err := control(t, run, "reload"); err != nil {
		t.Fatalf("mpgate reload: %v %s", err, out)
	}
	os.WriteFile(conf, []byte("<Directory /x>\nPythonDebug Maybe\n</Directory>\n"), 0o644)
	if _, out, err := control(t, run, "reload"); err == nil || !strings.Contains(out, "site.conf:2") {
		t.Fatalf("reload of a broken configuration: %v %q, want an error naming site.conf:2", err, out)
	}

	second := exec.Command(mpgateBin, "serve", "--config", conf, "--run-dir", run)
	if out, err := second.CombinedOutput(); err == nil || !strings.Contains(string(out), "another mpgate daemon holds") {
		t.Fatalf("second daemon on the same run directory: %v %q, want a refusal", err, out)
	}

	if _, out, err := control(t, run, "stop"); err != nil {
		t.Fatalf("mpgate stop: %v %s", err, out)
	}
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("the daemon did not exit within 30s of mpgate stop")
	}
	if _, err := os.Stat(filepath.Join(run, "mpgate.sock")); err == nil {
		t.Errorf("socket left behind after stop")
	}
}

func processAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return len(f) > 2 && f[2] != "Z"
}

// TestRelaysStartOneDaemon: ten fcgid relays that find no daemon at once
// start exactly one, and all serve through it.
func TestRelaysStartOneDaemon(t *testing.T) {
	dir, conf := miniSite(t)
	run := filepath.Join(dir, "run")
	const n = 10
	socks := make([]string, n)
	var relays []*exec.Cmd
	for i := range socks {
		socks[i] = filepath.Join(dir, "relay"+strconv.Itoa(i)+".sock")
		ln, err := net.Listen("unix", socks[i])
		if err != nil {
			t.Fatal(err)
		}
		ln.(*net.UnixListener).SetUnlinkOnClose(false)
		f, _ := ln.(*net.UnixListener).File()
		ln.Close()
		cmd := exec.Command(mpgateBin, "fcgid", "--config", conf, "--run-dir", run, "--idle-exit", "1m")
		cmd.Stdin = f // mod_fcgid hands the listening socket over as fd 0
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		relays = append(relays, cmd)
	}
	t.Cleanup(func() {
		for _, r := range relays {
			r.Process.Signal(os.Interrupt)
			r.Wait()
		}
		if b, err := os.ReadFile(filepath.Join(run, "mpgate.pid")); err == nil {
			pid := strings.TrimSpace(string(b))
			exec.Command("kill", pid).Run()
			waitFor(t, 30*time.Second, "the daemon to exit", func() bool { return !processAlive(atoiOr(pid)) })
		}
	})
	var wg sync.WaitGroup
	pids := make([]string, n)
	for i := range socks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The listening socket exists before the relay starts: the
			// connection waits in its backlog until the relay accepts.
			c, err := net.Dial("unix", socks[i])
			if err != nil {
				t.Errorf("relay %d: %v", i, err)
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(60 * time.Second))
			ps := fcgitest.CGIParams("GET", "/app/x", dir+"/app/x", "/app/x", "")
			rep, err := fcgitest.Do(c, &fcgitest.Request{Params: ps})
			if err != nil {
				t.Errorf("relay %d: %v", i, err)
				return
			}
			if rep.Status != 200 {
				t.Errorf("relay %d: status %d %q", i, rep.Status, rep.Body)
			}
			pids[i] = string(rep.Body)
		}()
	}
	wg.Wait()
	rep, out, err := control(t, run, "status")
	if err != nil || !rep.OK {
		t.Fatalf("status after the relays: %v %s", err, out)
	}
	daemons := 0
	for _, p := range listProcs(mpgateBin, "serve") {
		if strings.Contains(p, run) {
			daemons++
		}
	}
	if daemons != 1 {
		t.Errorf("%d daemons serve %s, want exactly 1", daemons, run)
	}
}

func atoiOr(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// listProcs returns the command lines of processes running bin with arg.
func listProcs(bin, arg string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) > 1 && args[0] == bin && args[1] == arg && processAlive(atoiOr(e.Name())) {
			out = append(out, strings.Join(args, " "))
		}
	}
	return out
}
