// This file is `mpgate serve`: the long-lived daemon that answers FastCGI on
// a unix socket (mod_proxy_fcgi, and the fcgid relays) and optionally on TCP
// loopback.

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mpgate/mpgate/dispatch"
	"github.com/mpgate/mpgate/fcgi"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run the daemon: FastCGI on a unix socket, Python workers behind it",
		Description: "Reads the Apache configuration FILE, starts the workers of the main server's interpreter\n" +
			"and answers FastCGI requests on RUN-DIR/mpgate.sock until SIGTERM or SIGINT (a second signal\n" +
			"cuts the drain of in-flight requests short). SIGHUP re-reads the configuration.\n\n" +
			"Apache side: Include apache-conf/mpgate-proxy.conf and point the migrated sections at the socket.",
		Flags: append(append(siteFlags(), daemonFlags()...),
			&cli.StringFlag{Name: "authz-listen", EnvVars: []string{"MPGATE_AUTHZ_LISTEN"},
				Usage: "`HOST:PORT` (TCP) serving only FastCGI AUTHORIZER requests, for mod_authnz_fcgi (apache-conf/mpgate-proxy.conf, Define MPGATE_AUTHZ_PORT); other requests there are refused"}),
		Action: serve,
	}
}

// shutdownGrace bounds the drain of in-flight requests on a graceful stop.
const shutdownGrace = 30 * time.Second

func serve(c *cli.Context) error {
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	run, sockPath, state, err := runDirs(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(run, 0o755); err != nil {
		return fmt.Errorf("run directory: %w", err)
	}
	lock, err := lockRunDir(run)
	if err != nil {
		return err
	}
	defer lock.Close()

	cfg, err := loadConfig(c, log)
	if err != nil {
		return err
	}
	opts := dispatch.Options{
		Python:         c.String("python"),
		StateDir:       state,
		MaxWorkers:     c.Int("workers"),
		RequestTimeout: c.Duration("request-timeout"),
		MaxBodyBytes:   c.Int64("max-body"),
		Defines:        c.StringSlice("define"),
		Logger:         log,
		Watch:          c.String("watch"),
		PollInterval:   c.Duration("poll-interval"),
	}
	switch opts.Watch {
	case "auto", "poll", "off":
	default:
		return cli.Exit(fmt.Sprintf("--watch %q: want auto, poll or off", opts.Watch), 2)
	}
	if os.Geteuid() == 0 {
		cred, err := credentialOf(c.String("user"))
		if err != nil {
			return err
		}
		opts.Credential = cred
	}
	store, err := openSessionStore(c)
	if err != nil {
		return fmt.Errorf("sessions: %w", err)
	}
	defer store.Close() // after the workers are gone (deferred below)
	opts.Sessions = store
	opts.SessionLockWait = c.Duration("session-lock-wait")
	d, err := dispatch.New(cfg, opts)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Warm(); err != nil {
		return fmt.Errorf("start workers: %w", err)
	}

	var lastRequest atomic.Int64
	lastRequest.Store(time.Now().UnixNano())
	handler := fcgi.HandlerFunc(func(w *fcgi.Response, r *fcgi.Request) uint32 {
		lastRequest.Store(time.Now().UnixNano())
		defer lastRequest.Store(time.Now().UnixNano())
		return d.ServeFCGI(w, r)
	})
	srv := &fcgi.Server{Handler: handler, Logger: log}

	ln, err := listenUnix(sockPath, c.String("socket-group"), log)
	if err != nil {
		return err
	}
	defer os.Remove(sockPath)
	// Relays started by mod_fcgid hand Apache's connections over here.
	passPath := passSocket(run)
	pln, err := listenUnix(passPath, c.String("socket-group"), log)
	if err != nil {
		return err
	}
	defer os.Remove(passPath)
	listeners := []net.Listener{ln}
	var authzLn net.Listener
	// Responders come only through the unix sockets, which only Apache's
	// group may open: a TCP responder would let any local user claim a
	// REMOTE_USER (or MPGATE_PHASES) for a handler.
	// The authorizer listener: any local user can connect to a TCP port, so
	// it serves only AUTHORIZER requests, with a server of its own.
	var asrv *fcgi.Server
	if addr := c.String("authz-listen"); addr != "" {
		al, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("--authz-listen %s: %w", addr, err)
		}
		name := "--authz-listen " + al.Addr().String()
		ah := d.AuthorizerHandler(name)
		asrv = &fcgi.Server{Handler: fcgi.HandlerFunc(func(w *fcgi.Response, r *fcgi.Request) uint32 {
			lastRequest.Store(time.Now().UnixNano())
			defer lastRequest.Store(time.Now().UnixNano())
			return ah.ServeFCGI(w, r)
		}), Logger: log}
		defer asrv.Close()
		authzLn = al
		log.Info("serving AUTHORIZER requests", "listen", al.Addr().String())
	}
	pidFile := filepath.Join(run, "mpgate.pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	defer os.Remove(pidFile)

	ctx, cancel := context.WithCancel(c.Context)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, len(listeners)+1)
	if authzLn != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := asrv.Serve(authzLn); err != nil && !errors.Is(err, fcgi.ErrServerClosed) {
				errs <- fmt.Errorf("serve %s: %w", authzLn.Addr(), err)
				cancel()
			}
		}()
	}
	for _, l := range listeners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(l); err != nil && !errors.Is(err, fcgi.ErrServerClosed) {
				errs <- fmt.Errorf("serve %s: %w", l.Addr(), err)
				cancel()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		servePassed(pln.(*net.UnixListener), srv, log)
	}()
	defer pln.Close()
	log.Info("mpgate serving", "version", version, "socket", sockPath, "config", c.String("config"), "python", opts.Python)

	started := time.Now()
	reload := func() error {
		ncfg, err := loadConfig(c, log)
		if err != nil {
			log.Error("configuration not reloaded", "err", err)
			return err
		}
		d.SetConfig(ncfg)
		log.Info("configuration reloaded; replacing workers")
		return nil
	}
	// recycle replaces every worker after a reload, new ones ready before
	// old ones stop, so code that cannot be reloaded in place is picked up.
	recycle := func(timeout time.Duration) error {
		rctx, rcancel := context.WithTimeout(ctx, timeout)
		defer rcancel()
		start := time.Now()
		if err := d.Recycle(rctx); err != nil {
			log.Error("workers not all replaced", "err", err)
			return err
		}
		log.Info("workers replaced", "took", time.Since(start).Round(time.Millisecond))
		return nil
	}
	reloads := make(chan chan error)
	cln, err := listenControl(run)
	if err != nil {
		return err
	}
	ctl := &controlServer{
		ln:  cln,
		log: log,
		status: func() controlReply {
			pools := map[string]map[string]int{}
			for name, st := range d.Stats() {
				pools[name] = map[string]int{"live": st[0], "idle": st[1]}
			}
			return controlReply{OK: true, PID: os.Getpid(), Version: version, Config: c.String("config"),
				Uptime: time.Since(started).Round(time.Second).String(), Pools: pools}
		},
		sessions: func(args []string) controlReply {
			return sessionOp(ctx, store, opts.Python, args)
		},
		modules: func() controlReply {
			rep := controlReply{OK: true, Watch: d.WatchMode()}
			for _, om := range d.Modules() {
				wm := workerModules{Interpreter: om.Owner.Interpreter, Worker: om.Owner.Worker, PID: om.Owner.PID}
				for _, m := range om.Modules {
					wm.Modules = append(wm.Modules, moduleInfo{File: m.File, Name: m.Name, Generation: m.Generation,
						Loaded: m.Loaded, Reason: m.Reason, Stale: m.Stale, Deps: m.Deps})
				}
				rep.Workers = append(rep.Workers, wm)
			}
			return rep
		},
		reload: func() error {
			done := make(chan error, 1)
			select {
			case reloads <- done:
				if err := <-done; err != nil {
					return err
				}
			case <-ctx.Done():
				return errors.New("daemon is stopping")
			}
			// The reply waits until the old workers are gone (or the
			// control connection's budget is nearly spent).
			return recycle(controlTimeout - 5*time.Second)
		},
		stop: cancel,
	}
	ctl.serve()
	defer ctl.close()

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	idle := c.Duration("idle-exit")
	var tick <-chan time.Time
	if idle > 0 {
		t := time.NewTicker(min(idle/4, time.Minute))
		defer t.Stop()
		tick = t.C
	}
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-hup:
			if reload() == nil {
				go recycle(10 * time.Minute)
			}
		case done := <-reloads:
			done <- reload()
		case <-tick:
			if time.Since(time.Unix(0, lastRequest.Load())) > idle {
				log.Info("exiting after idle period", "idle", idle)
				break loop
			}
		}
	}

	log.Info("mpgate stopping: draining requests", "grace", shutdownGrace)
	pln.Close()
	sctx, scancel := context.WithTimeout(hardStop(c.Context), shutdownGrace)
	defer scancel()
	if asrv != nil {
		go asrv.Shutdown(sctx)
	}
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("drain cut short", "err", err)
		srv.Close()
	}
	if asrv != nil {
		asrv.Close()
	}
	wg.Wait()
	d.Close()
	log.Info("mpgate stopped")
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// lockRunDir takes the run directory's lock: one daemon per run directory.
func lockRunDir(run string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(run, "mpgate.lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		pid, _ := os.ReadFile(filepath.Join(run, "mpgate.pid"))
		return nil, cli.Exit(fmt.Sprintf("another mpgate daemon holds %s (pid %s)", run, strings.TrimSpace(string(pid))), 1)
	}
	return f, nil
}

// listenUnix listens on path, replacing a stale socket (the run directory
// lock proves no daemon owns it), readable and writable by its owner and
// by group (Apache's) only.
func listenUnix(path, group string, log *slog.Logger) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	os.Remove(path)
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", path, err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	if group != "" && os.Geteuid() == 0 {
		if g, err := user.LookupGroup(group); err == nil {
			gid, _ := strconv.Atoi(g.Gid)
			if err := os.Chown(path, -1, gid); err == nil {
				os.Chmod(path, 0o660)
			}
		} else {
			log.Warn("socket group not found; only the daemon's user can connect", "group", group)
		}
	}
	return ln, nil
}

// credentialOf returns the uid/gid of a user name.
func credentialOf(name string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, cli.Exit(fmt.Sprintf("--user %s: %v", name, err), 2)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// servePassed accepts relays on the pass socket and serves the Apache
// connections they hand over (SCM_RIGHTS), until the listener is closed.
// Then it closes the relays' connections too: a relay keeps its own for as
// long as mod_fcgid keeps the relay, and the daemon's stop must not wait for
// Apache's. The Apache connections already handed over are the fcgi.Server's
// to drain.
func servePassed(l *net.UnixListener, srv *fcgi.Server, log *slog.Logger) {
	var wg sync.WaitGroup
	var mu sync.Mutex // guards relays
	relays := map[*net.UnixConn]struct{}{}
	defer func() {
		mu.Lock()
		for uc := range relays {
			uc.Close()
		}
		mu.Unlock()
		wg.Wait()
	}()
	for {
		uc, err := l.AcceptUnix()
		if err != nil {
			return
		}
		mu.Lock()
		relays[uc] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			receiveConns(uc, srv, log)
			mu.Lock()
			delete(relays, uc)
			mu.Unlock()
		}()
	}
}

// receiveConns serves every connection one relay hands over, until the
// relay goes away.
func receiveConns(uc *net.UnixConn, srv *fcgi.Server, log *slog.Logger) {
	defer uc.Close()
	buf := make([]byte, 1)
	oob := make([]byte, syscall.CmsgSpace(4))
	for {
		_, oobn, _, _, err := uc.ReadMsgUnix(buf, oob)
		if err != nil {
			return
		}
		msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) == 0 {
			log.Error("relay sent no connection", "err", err)
			return
		}
		for _, m := range msgs {
			fds, err := syscall.ParseUnixRights(&m)
			if err != nil {
				log.Error("relay sent a malformed control message", "err", err)
				return
			}
			for _, fd := range fds {
				f := os.NewFile(uintptr(fd), "fcgid-conn")
				c, err := net.FileConn(f)
				f.Close()
				if err != nil {
					log.Error("relay sent an unusable descriptor", "err", err)
					continue
				}
				go srv.ServeConn(dispatch.TransportConn{Conn: c, Name: "fcgid"})
			}
		}
	}
}
