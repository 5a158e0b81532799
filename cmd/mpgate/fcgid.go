// This file is `mpgate fcgid`: the program mod_fcgid starts. It accepts
// Apache's connections on fd 0 and hands each one to the daemon (descriptor
// passing), starting the daemon first if none is running. It holds no Python,
// no session store, and is not in the data path.

package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
)

func fcgidCommand() *cli.Command {
	return &cli.Command{
		Name:  "fcgid",
		Usage: "relay for mod_fcgid: point FcgidWrapper at this command",
		Description: "mod_fcgid starts this program with a listening socket on fd 0. It relays every request\n" +
			"(all FastCGI roles) to the daemon on RUN-DIR/pass.sock, and starts the daemon (mpgate serve\n" +
			"with the same flags, exiting after --idle-exit) when none is running. mod_fcgid passes\n" +
			"almost no environment: give the flags on the FcgidWrapper line or with FcgidInitialEnv.\n\n" +
			"  FcgidWrapper \"/usr/bin/mpgate fcgid --config /etc/apache2/apache2.conf --run-dir /run/mpgate\" virtual",
		Flags:  append(siteFlags(), daemonFlags()...),
		Action: relayMain,
	}
}

// daemonStartTimeout bounds the wait for a daemon the relay started.
const daemonStartTimeout = 60 * time.Second

// defaultIdleExit is how long a daemon started by a relay lives without
// requests.
const defaultIdleExit = 10 * time.Minute

func relayMain(c *cli.Context) error {
	// mod_fcgid runs one relay per concurrent request, and a relay only
	// accepts and passes descriptors: one P keeps its threads, and so its
	// memory, to the minimum.
	runtime.GOMAXPROCS(1)
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	ln, err := net.FileListener(os.NewFile(0, "fcgid-listener"))
	if err != nil {
		return cli.Exit("mpgate fcgid must be started by mod_fcgid: fd 0 is not a listening socket ("+err.Error()+")", 2)
	}
	closeInheritedFDs()
	run, sock, _, err := runDirs(c)
	if err != nil {
		return err
	}
	rl := &relay{sock: sock, run: run, log: log, serveArgs: serveArgs(c)}
	go func() {
		<-c.Context.Done() // mod_fcgid sends SIGTERM: finish the request in flight, then exit
		ln.Close()
	}()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if c.Context.Err() != nil {
				rl.close()
				return nil
			}
			return fmt.Errorf("accept: %w", err)
		}
		rl.serveConn(conn)
	}
}

// closeInheritedFDs marks every descriptor above 2 close-on-exec: mod_fcgid
// leaks some of Apache's into its processes, and a daemon we start must not
// inherit them.
func closeInheritedFDs() {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}

// serveArgs rebuilds the flags a started daemon gets.
func serveArgs(c *cli.Context) []string {
	args := []string{"serve"}
	for _, name := range []string{"config", "server-root", "server-name", "log-level", "run-dir", "socket", "state-dir", "python", "user", "socket-group", "watch", "session-db", "session-sync"} {
		if v := c.String(name); v != "" {
			if name == "config" || name == "run-dir" || name == "state-dir" || name == "socket" || name == "session-db" {
				if abs, err := filepath.Abs(v); err == nil {
					v = abs
				}
			}
			args = append(args, "--"+name, v)
		}
	}
	for _, d := range c.StringSlice("define") {
		args = append(args, "-D", d)
	}
	if v := c.Int("workers"); v > 0 {
		args = append(args, "--workers", strconv.Itoa(v))
	}
	if v := c.Duration("request-timeout"); v > 0 {
		args = append(args, "--request-timeout", v.String())
	}
	if v := c.Duration("session-lock-wait"); v > 0 {
		args = append(args, "--session-lock-wait", v.String())
	}
	if v := c.Duration("poll-interval"); v > 0 {
		args = append(args, "--poll-interval", v.String())
	}
	if v := c.Int64("max-body"); v != 0 {
		args = append(args, "--max-body", strconv.FormatInt(v, 10))
	}
	idle := defaultIdleExit
	if c.IsSet("idle-exit") {
		idle = c.Duration("idle-exit")
	}
	return append(args, "--idle-exit", idle.String())
}

// relay hands Apache's connections to the daemon. It never reads them: each
// accepted connection's descriptor goes to the daemon over RUN-DIR/pass.sock
// (SCM_RIGHTS), and the daemon speaks FastCGI with Apache directly, so the
// relay costs one accept and one sendmsg per request and holds no buffers.
type relay struct {
	sock, run string
	serveArgs []string
	log       *slog.Logger

	pass *net.UnixConn // connection to the daemon's pass socket, nil when none
}

func (rl *relay) close() {
	if rl.pass != nil {
		rl.pass.Close()
		rl.pass = nil
	}
}

// serveConn hands one Apache connection to the daemon. Nothing has been
// read from it, so after a failure it can be handed again, once, to a
// daemon started anew.
func (rl *relay) serveConn(down net.Conn) {
	defer down.Close()
	uc, ok := down.(*net.UnixConn)
	if !ok {
		rl.log.Error("mod_fcgid connection is not a unix socket", "type", fmt.Sprintf("%T", down))
		return
	}
	f, err := uc.File() // a duplicate descriptor; closed below
	if err != nil {
		rl.log.Error("cannot take Apache's connection", "err", err)
		return
	}
	defer f.Close()
	rights := syscall.UnixRights(int(f.Fd()))
	for attempt := 0; attempt < 2; attempt++ {
		if err = rl.connectPass(); err != nil {
			break
		}
		if _, _, err = rl.pass.WriteMsgUnix([]byte{0}, rights, nil); err == nil {
			return
		}
		rl.close() // the daemon went away (idle exit, restart): start or find another
	}
	rl.log.Error("mpgate daemon unavailable; request dropped", "err", err)
}

// passSocket is the daemon's socket for connections handed over by relays.
func passSocket(run string) string { return filepath.Join(run, "pass.sock") }

// connectPass makes sure there is a connection to the daemon's pass socket,
// starting the daemon if none answers.
func (rl *relay) connectPass() error {
	if rl.pass != nil && !peerClosed(rl.pass) {
		return nil
	}
	rl.close()
	c, err := net.Dial("unix", passSocket(rl.run))
	if err != nil {
		c, err = startDaemon(daemonStart{
			run: rl.run, sock: passSocket(rl.run), args: rl.serveArgs,
			output: os.Stderr, where: "the error log above", log: rl.log,
		})
		if err != nil {
			return err
		}
	}
	rl.pass = c.(*net.UnixConn)
	return nil
}

// peerClosed reports whether the daemon closed the connection (it exited
// after its idle period, or restarted) while the relay was idle.
func peerClosed(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	closed := false
	var b [1]byte
	rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		closed = n == 0 && err == nil || (err != nil && err != syscall.EAGAIN && err != syscall.EWOULDBLOCK)
		return true
	})
	return closed
}

// daemonStart says how a relay (`mpgate fcgid`, `mpgate cgi`) starts the
// daemon it needs.
type daemonStart struct {
	run    string   // the run directory, for the start lock
	sock   string   // the daemon's socket the relay dials, which answers once it is ready
	args   []string // the arguments of `mpgate serve` (serveArgs)
	env    []string // the daemon's environment; nil means the relay's
	output *os.File // the daemon's stdout and stderr
	where  string   // what output is, for messages: "the error log above", a file name
	log    *slog.Logger
}

// startDaemon starts `mpgate serve` detached (own session, no inherited
// descriptors, stdout and stderr to d.output: Apache's error log for the
// fcgid relay) unless another relay is doing it, and waits until d.sock
// answers. The start lock makes ten relays starting at once start one
// daemon; the daemon's own run-directory lock makes it exactly one even
// against a daemon started by hand.
func startDaemon(d daemonStart) (net.Conn, error) {
	if err := os.MkdirAll(d.run, 0o755); err != nil {
		return nil, fmt.Errorf("run directory: %w", err)
	}
	lf, err := os.OpenFile(filepath.Join(d.run, "start.lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start lock: %w", err)
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		return nil, fmt.Errorf("start lock: %w", err)
	}
	defer syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
	if c, err := net.Dial("unix", d.sock); err == nil {
		return c, nil // another relay started it meanwhile
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer null.Close()
	cmd := exec.Command(self, d.args...)
	cmd.Dir = "/"
	cmd.Env = d.env
	cmd.Stdin = null
	cmd.Stdout = d.output
	cmd.Stderr = d.output
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start daemon: %w", err)
	}
	d.log.Info("started mpgate daemon", "pid", cmd.Process.Pid, "socket", d.sock)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }() // reap it if it exits while this relay lives

	ctx, cancel := context.WithTimeout(context.Background(), daemonStartTimeout)
	defer cancel()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		c, err := net.Dial("unix", d.sock)
		if err == nil {
			return c, nil
		}
		select {
		case err := <-exited:
			return nil, fmt.Errorf("daemon exited at start (%v); see %s", err, d.where)
		case <-ctx.Done():
			return nil, fmt.Errorf("daemon did not open %s within %v", d.sock, daemonStartTimeout)
		case <-t.C:
		}
	}
}
