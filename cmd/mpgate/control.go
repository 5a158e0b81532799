// This file is the daemon's control socket (RUN-DIR/control.sock) and the
// commands that use it: `mpgate status`, `mpgate reload`, `mpgate stop`,
// `mpgate modules`.
// The protocol is one command line from the client, one JSON object back.

package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
)

// controlReply is the JSON answer to a control command.
type controlReply struct {
	OK      bool                      `json:"ok"`
	Error   string                    `json:"error,omitempty"`
	PID     int                       `json:"pid,omitempty"`
	Version string                    `json:"version,omitempty"`
	Config  string                    `json:"config,omitempty"`
	Uptime  string                    `json:"uptime,omitempty"`
	Pools   map[string]map[string]int `json:"pools,omitempty"`
	Watch   string                    `json:"watch,omitempty"`
	Workers []workerModules           `json:"workers,omitempty"` // for "modules"
	// for "sessions ...": the sessions listed or shown; a count of sessions
	// listed, deleted, purged or imported; sessions an import skipped
	Sessions []sessionInfo `json:"sessions,omitempty"`
	Count    int           `json:"count,omitempty"`
	Skipped  int           `json:"skipped,omitempty"`
}

// workerModules is one worker's site modules in a "modules" reply.
type workerModules struct {
	Interpreter string       `json:"interpreter"`
	Worker      int          `json:"worker"`
	PID         int          `json:"pid"`
	Modules     []moduleInfo `json:"modules"`
}

// moduleInfo is one loaded site module.
type moduleInfo struct {
	File       string    `json:"file"`
	Name       string    `json:"name"`
	Generation int       `json:"generation"`
	Loaded     time.Time `json:"loaded"`
	Reason     string    `json:"reason,omitempty"`
	Stale      bool      `json:"stale,omitempty"`
	Deps       []string  `json:"deps,omitempty"`
}

// controlTimeout bounds one control connection; a reload's reply waits for
// the workers to be replaced within it.
const controlTimeout = 60 * time.Second

// controlServer answers control commands for a running daemon.
type controlServer struct {
	ln       net.Listener
	log      *slog.Logger
	status   func() controlReply
	modules  func() controlReply
	sessions func(args []string) controlReply
	reload   func() error
	stop     func()
	wg       sync.WaitGroup
}

// listenControl opens RUN-DIR/control.sock, usable by the daemon's user only.
func listenControl(run string) (net.Listener, error) {
	path := filepath.Join(run, "control.sock")
	os.Remove(path) // the run directory lock proves no daemon owns it
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return ln, nil
}

func (cs *controlServer) serve() {
	cs.wg.Add(1)
	go func() {
		defer cs.wg.Done()
		for {
			c, err := cs.ln.Accept()
			if err != nil {
				return
			}
			cs.handle(c)
		}
	}()
}

func (cs *controlServer) close() {
	cs.ln.Close()
	cs.wg.Wait()
}

func (cs *controlServer) handle(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(controlTimeout))
	line, err := bufio.NewReader(io.LimitReader(c, 1024)).ReadString('\n')
	if err != nil && line == "" {
		return
	}
	var rep controlReply
	switch cmd := strings.TrimSpace(line); {
	case strings.HasPrefix(cmd, "sessions ") || cmd == "sessions":
		rep = cs.sessions(strings.Fields(cmd)[1:])
	case cmd == "status":
		rep = cs.status()
	case cmd == "modules":
		rep = cs.modules()
	case cmd == "reload":
		if err := cs.reload(); err != nil {
			rep = controlReply{Error: err.Error()}
		} else {
			rep = controlReply{OK: true}
		}
	case cmd == "stop":
		rep = controlReply{OK: true}
		defer cs.stop()
	default:
		rep = controlReply{Error: fmt.Sprintf("unknown command %q (want status, modules, reload or stop)", cmd)}
	}
	cs.log.Info("control command", "cmd", strings.TrimSpace(line), "ok", rep.OK)
	json.NewEncoder(c).Encode(rep)
}

// controlCommands are the CLI commands that talk to a running daemon.
func controlCommands() []*cli.Command {
	runDir := &cli.StringFlag{Name: "run-dir", EnvVars: []string{"MPGATE_RUN_DIR"}, Value: "/run/mpgate", Usage: "the daemon's run `DIR`"}
	mk := func(name, usage string) *cli.Command {
		return &cli.Command{
			Name:  name,
			Usage: usage,
			Flags: []cli.Flag{runDir},
			Action: func(c *cli.Context) error {
				rep, err := sendControl(c.String("run-dir"), name)
				if err != nil {
					return cli.Exit(err.Error(), 1)
				}
				out, _ := json.MarshalIndent(rep, "", "  ")
				fmt.Fprintln(c.App.Writer, string(out))
				if !rep.OK {
					return cli.Exit("mpgate "+name+": "+rep.Error, 1)
				}
				return nil
			},
		}
	}
	modules := &cli.Command{
		Name:  "modules",
		Usage: "list the site modules each worker has loaded: file, name, generation, load time, dependencies",
		Flags: []cli.Flag{runDir, &cli.BoolFlag{Name: "json", Usage: "print the daemon's JSON reply"}},
		Action: func(c *cli.Context) error {
			rep, err := sendControl(c.String("run-dir"), "modules")
			if err != nil {
				return cli.Exit(err.Error(), 1)
			}
			if !rep.OK {
				return cli.Exit("mpgate modules: "+rep.Error, 1)
			}
			if c.Bool("json") {
				out, _ := json.MarshalIndent(rep, "", "  ")
				fmt.Fprintln(c.App.Writer, string(out))
				return nil
			}
			printModules(c.App.Writer, rep)
			return nil
		},
	}
	return []*cli.Command{
		mk("status", "show the running daemon's pid, configuration and worker pools"),
		modules,
		mk("reload", "make the running daemon re-read its configuration and replace its workers, new before old (like SIGHUP)"),
		mk("stop", "stop the running daemon gracefully (like SIGTERM)"),
	}
}

// sendControl sends one command to the daemon of run and decodes its reply.
func sendControl(run, cmd string) (*controlReply, error) {
	path := filepath.Join(run, "control.sock")
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("no mpgate daemon is running on %s", run)
		}
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(controlTimeout))
	if _, err := fmt.Fprintln(c, cmd); err != nil {
		return nil, err
	}
	var rep controlReply
	if err := json.NewDecoder(c).Decode(&rep); err != nil {
		return nil, fmt.Errorf("reading the daemon's reply: %w", err)
	}
	return &rep, nil
}

// printModules writes a "modules" reply for people: one block per worker,
// one line per module, its dependencies indented below it.
func printModules(w io.Writer, rep *controlReply) {
	fmt.Fprintf(w, "watching: %s\n", rep.Watch)
	if len(rep.Workers) == 0 {
		fmt.Fprintln(w, "no worker has loaded a site module")
	}
	for _, wm := range rep.Workers {
		fmt.Fprintf(w, "\ninterpreter %q, worker %d (pid %d): %d module(s)\n", wm.Interpreter, wm.Worker, wm.PID, len(wm.Modules))
		for _, m := range wm.Modules {
			state := ""
			if m.Stale {
				state = " STALE (reloads on next use)"
			}
			fmt.Fprintf(w, "  %s  %s  generation %d  loaded %s (%s)%s\n", m.File, m.Name, m.Generation,
				m.Loaded.Local().Format("2006-01-02 15:04:05.000"), m.Reason, state)
			for _, d := range m.Deps {
				fmt.Fprintf(w, "      imports %s\n", d)
			}
		}
	}
}
