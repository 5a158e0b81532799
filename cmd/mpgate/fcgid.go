// This file is `mpgate fcgid`: the program mod_fcgid starts. It accepts
// Apache's connections on fd 0 and relays each request, record by record, to
// the daemon over one persistent FastCGI connection (KEEP_CONN), starting the
// daemon first if none is running. It holds no Python and no session store.

package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mpgate/mpgate/fcgi"
)

func fcgidCommand() *cli.Command {
	return &cli.Command{
		Name:  "fcgid",
		Usage: "relay for mod_fcgid: point FcgidWrapper at this command",
		Description: "mod_fcgid starts this program with a listening socket on fd 0. It relays every request\n" +
			"(all FastCGI roles) to the daemon on RUN-DIR/mpgate.sock, and starts the daemon (mpgate serve\n" +
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
	for _, name := range []string{"config", "server-root", "server-name", "log-level", "run-dir", "socket", "state-dir", "python", "user", "socket-group"} {
		if v := c.String(name); v != "" {
			if name == "config" || name == "run-dir" || name == "state-dir" || name == "socket" {
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
	for _, l := range c.StringSlice("listen") {
		args = append(args, "--listen", l)
	}
	if v := c.Int("workers"); v > 0 {
		args = append(args, "--workers", strconv.Itoa(v))
	}
	if v := c.Duration("request-timeout"); v > 0 {
		args = append(args, "--request-timeout", v.String())
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

// relay forwards Apache's requests to the daemon. mod_fcgid sends one
// request at a time to a process, so one daemon connection suffices.
type relay struct {
	sock, run string
	serveArgs []string
	log       *slog.Logger

	up    net.Conn // persistent connection to the daemon, nil when none
	upBuf *bufio.Reader
	upR   *fcgi.RecordReader
	wbuf  []byte
}

func (rl *relay) close() {
	if rl.up != nil {
		rl.up.Close()
		rl.up = nil
	}
}

// transportParam tells the daemon the request came through mod_fcgid.
var transportParam = fcgi.AppendParams(nil, []fcgi.Param{{Name: "MPGATE_TRANSPORT", Value: "fcgid"}})

// serveConn relays one Apache connection (one request).
func (rl *relay) serveConn(down net.Conn) {
	defer down.Close()
	if err := rl.connectUp(); err != nil {
		rl.log.Error("mpgate daemon unavailable", "err", err)
		return
	}
	up := rl.up
	// Apache's records go up in a goroutine while the reply comes down here:
	// a handler may answer before it has read the whole body.
	upErr := make(chan error, 1)
	go func() { upErr <- rl.forwardUp(down, up) }()

	downW := bufio.NewWriterSize(down, 64<<10)
	err := rl.forwardDown(downW, up)
	if err == nil {
		err = downW.Flush()
	}
	if err != nil {
		rl.log.Error("relay failed; dropping the daemon connection", "err", err)
		rl.close()
		down.Close()
	}
	if uerr := <-upErr; uerr != nil && err == nil {
		rl.log.Error("relay from Apache failed", "err", uerr)
		rl.close()
	}
}

// forwardUp copies the request's records from Apache to the daemon, setting
// KEEP_CONN and adding MPGATE_TRANSPORT. It stops when the request's input
// is complete: the empty STDIN record, or for AUTHORIZER requests, which get
// no STDIN, the empty PARAMS record.
func (rl *relay) forwardUp(down net.Conn, up net.Conn) error {
	br := bufio.NewReaderSize(down, 64<<10)
	rr := fcgi.NewRecordReader(br)
	buf := make([]byte, 0, 16<<10)
	role := fcgi.RoleResponder
	for {
		rec, err := rr.Read()
		if err != nil {
			return fmt.Errorf("read from Apache: %w", err)
		}
		done := false
		switch rec.Type {
		case fcgi.TypeBeginRequest:
			if len(rec.Content) == 8 {
				role = fcgi.Role(uint16(rec.Content[0])<<8 | uint16(rec.Content[1]))
			}
			buf = fcgi.AppendBeginRequest(buf, rec.ID, role, true)
		case fcgi.TypeParams:
			if len(rec.Content) == 0 {
				buf = fcgi.AppendRecord(buf, fcgi.TypeParams, rec.ID, transportParam)
				done = role == fcgi.RoleAuthorizer
			}
			buf = fcgi.AppendRecord(buf, rec.Type, rec.ID, rec.Content)
		case fcgi.TypeStdin:
			buf = fcgi.AppendRecord(buf, rec.Type, rec.ID, rec.Content)
			done = len(rec.Content) == 0
		default:
			buf = fcgi.AppendRecord(buf, rec.Type, rec.ID, rec.Content)
		}
		// Batch what Apache sent in one go into one write.
		if done || br.Buffered() == 0 || len(buf) >= 60<<10 {
			if _, err := up.Write(buf); err != nil {
				return fmt.Errorf("write to daemon: %w", err)
			}
			buf = buf[:0]
		}
		if done {
			return nil
		}
	}
}

// forwardDown copies the daemon's reply to Apache until END_REQUEST.
func (rl *relay) forwardDown(w *bufio.Writer, up net.Conn) error {
	for {
		rec, err := rl.upR.Read()
		if err != nil {
			return fmt.Errorf("read from daemon: %w", err)
		}
		rl.wbuf = fcgi.AppendRecord(rl.wbuf[:0], rec.Type, rec.ID, rec.Content)
		if _, err := w.Write(rl.wbuf); err != nil {
			return fmt.Errorf("write to Apache: %w", err)
		}
		switch rec.Type {
		case fcgi.TypeEndRequest:
			return nil
		case fcgi.TypeStdout:
			// Stream: Apache decides about buffering (FcgidOutputBufferSize).
			if rl.upBuf.Buffered() == 0 {
				if err := w.Flush(); err != nil {
					return fmt.Errorf("write to Apache: %w", err)
				}
			}
		}
	}
}

// connectUp makes sure there is a live connection to the daemon, starting
// the daemon if none answers.
func (rl *relay) connectUp() error {
	if rl.up != nil && !peerClosed(rl.up) {
		return nil
	}
	rl.close()
	c, err := net.Dial("unix", rl.sock)
	if err != nil {
		c, err = rl.startDaemon()
		if err != nil {
			return err
		}
	}
	rl.up = c
	rl.upBuf = bufio.NewReaderSize(c, 64<<10)
	rl.upR = fcgi.NewRecordReader(rl.upBuf)
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

// startDaemon starts `mpgate serve` detached (own session, no inherited
// descriptors, stderr to Apache's error log) unless another relay is doing
// it, and waits until its socket answers. The start lock makes ten relays
// starting at once start one daemon; the daemon's own run-directory lock
// makes it exactly one even against a daemon started by hand.
func (rl *relay) startDaemon() (net.Conn, error) {
	if err := os.MkdirAll(rl.run, 0o755); err != nil {
		return nil, fmt.Errorf("run directory: %w", err)
	}
	lf, err := os.OpenFile(filepath.Join(rl.run, "start.lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start lock: %w", err)
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		return nil, fmt.Errorf("start lock: %w", err)
	}
	defer syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
	if c, err := net.Dial("unix", rl.sock); err == nil {
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
	cmd := exec.Command(self, rl.serveArgs...)
	cmd.Dir = "/"
	cmd.Stdin = null
	cmd.Stdout = os.Stderr // Apache's error log
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start daemon: %w", err)
	}
	rl.log.Info("started mpgate daemon", "pid", cmd.Process.Pid, "socket", rl.sock)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }() // reap it if it exits while this relay lives

	ctx, cancel := context.WithTimeout(context.Background(), daemonStartTimeout)
	defer cancel()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		c, err := net.Dial("unix", rl.sock)
		if err == nil {
			return c, nil
		}
		select {
		case err := <-exited:
			return nil, fmt.Errorf("daemon exited at start (%v); see the error log above", err)
		case <-ctx.Done():
			return nil, fmt.Errorf("daemon did not open %s within %v", rl.sock, daemonStartTimeout)
		case <-t.C:
		}
	}
}
