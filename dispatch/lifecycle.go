// This file is a worker's life around its requests, from the daemon's side:
// what it is given before its first request (CONTROL worker.init: the
// servers, the defines, the PythonImports of its interpreter, which it runs
// as mod_python runs them when a child starts), and the log lines it sends
// outside any request (its imports', its cleanups' when it stops), which go
// to the daemon's log since no Apache request is there to carry them.

package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/mpgate/mpgate/config"
)

// controlWorkerInit is the CONTROL command a worker gets before its HELLO
// (proto.go).
const controlWorkerInit = "worker.init"

// workerInit returns the worker.init payload for a new worker of interp and
// whether it has PythonImports to run, from the configuration in force.
func (s *Server) workerInit(interp string) ([]byte, bool) {
	s.wireMu.Lock()
	cfg := s.cfg.Load()
	if s.initServers == nil {
		servers := append([]*config.VirtualHost{cfg.MainServer()}, cfg.VirtualHosts()...)
		for _, v := range servers {
			b, err := json.Marshal(serverJSON(cfg, v))
			if err != nil {
				// Strings, numbers and lists only: cannot fail.
				panic(fmt.Sprintf("dispatch: encode server %s: %v", v.ServerName, err))
			}
			s.initServers = append(s.initServers, KV{"server", string(b)})
		}
	}
	args := append([]KV(nil), s.initServers...)
	s.wireMu.Unlock()
	// MPGATE is defined for reading the configuration only (<IfDefine
	// MPGATE> holds the Python directives Apache must skip): Apache never
	// defines it, so handlers do not see it either.
	seen := map[string]bool{"MPGATE": true}
	for _, d := range append(append([]string(nil), cfg.Defines()...), s.opts.Defines...) {
		if !seen[d] {
			seen[d] = true
			args = append(args, KV{"define", d})
		}
	}
	imports := false
	for _, imp := range cfg.Imports() {
		if imp.Interpreter == interp {
			args = append(args, KV{"import", imp.Module})
			imports = true
		}
	}
	return AppendControl(nil, &ControlFrame{Command: controlWorkerInit, Args: args}), imports
}

// awaitHello reads the worker's frames up to its HELLO, logging the LOG
// frames before it (what its PythonImports log), and returns HELLO's fields.
func (w *worker) awaitHello() ([]KV, error) {
	for {
		f, err := w.fr.ReadFrame()
		if err != nil {
			return nil, err
		}
		switch f.Type {
		case FrameHello:
			return ParseHello(f.Payload)
		case FrameLog:
			l, err := ParseLog(f.Payload)
			if err != nil {
				return nil, err
			}
			w.logFrame(l)
		default:
			return nil, &ProtoError{Type: f.Type, Err: "expected HELLO"}
		}
	}
}

// drainLogs logs the worker's LOG frames after SHUTDOWN (its cleanups'
// lines) until it closes the socket or the deadline set on it passes.
func (w *worker) drainLogs() {
	for {
		f, err := w.fr.ReadFrame()
		if err != nil {
			return
		}
		if f.Type != FrameLog {
			w.log.Warn("worker sent a frame after SHUTDOWN; ignored", "frame", f.Type.String())
			continue
		}
		l, err := ParseLog(f.Payload)
		if err != nil {
			w.log.Warn("worker sent a malformed LOG frame after SHUTDOWN", "err", err)
			return
		}
		w.logFrame(l)
	}
}

// logFrame writes a line the worker logged outside any request to the
// daemon's log, at the level it was logged with: mod_python writes such
// lines (PythonImport errors, apache.log_error in a cleanup at child exit)
// to the main server's error log, and the daemon's log is where mpgate's
// own lines go.
func (w *worker) logFrame(l LogFrame) {
	w.log.Log(context.Background(), slogLevel(l.Level), l.Message)
}

// slogLevel maps an APLOG_* level to the daemon log's levels.
func slogLevel(aplog int) slog.Level {
	switch {
	case aplog <= 3: // EMERG, ALERT, CRIT, ERR
		return slog.LevelError
	case aplog == 4: // WARNING
		return slog.LevelWarn
	case aplog <= 6: // NOTICE, INFO
		return slog.LevelInfo
	}
	return slog.LevelDebug
}
