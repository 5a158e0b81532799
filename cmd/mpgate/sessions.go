// This file is `mpgate sessions`: list, show, delete and purge the sessions
// of the daemon's store, and import mod_python's FileSession and DbmSession
// stores into it so that users stay logged in across the migration. With a
// daemon running, the command goes through its control socket (the daemon
// holds the database's lock); without one, it opens the database itself.

package main

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mpgate/mpgate/session"
)

// readSessionsPy reads mod_python's session stores without running any of
// the site's code (an inert unpickler reads the three numbers it needs).
//
//go:embed sessimport/read_modpython_sessions.py
var readSessionsPy string

// sessionInfo is one session in a control reply.
type sessionInfo struct {
	ID       string    `json:"id"`
	Created  time.Time `json:"created"`
	Accessed time.Time `json:"accessed"`
	Timeout  int64     `json:"timeout"` // seconds
	Expires  time.Time `json:"expires"`
	Size     int       `json:"size"`           // bytes of pickled data
	Data     string    `json:"data,omitempty"` // show: the data, as Python shows it
}

// sessionOp runs one `sessions` operation on st: "list", "show ID",
// "delete ID", "purge", "import files|dbm PATH". python runs the reader of
// mod_python stores and the data display.
func sessionOp(ctx context.Context, st session.Store, python string, args []string) controlReply {
	fail := func(format string, a ...any) controlReply { return controlReply{Error: fmt.Sprintf(format, a...)} }
	if len(args) == 0 {
		return fail("sessions: want list, show ID, delete ID, purge or import files|dbm PATH")
	}
	switch op, rest := args[0], args[1:]; {
	case op == "list" && len(rest) == 0:
		rep := controlReply{OK: true, Sessions: []sessionInfo{}}
		err := st.Range(ctx, func(r session.Record) bool {
			rep.Sessions = append(rep.Sessions, infoOf(&r))
			return true
		})
		if err != nil {
			return fail("sessions list: %v", err)
		}
		rep.Count = len(rep.Sessions)
		return rep
	case op == "show" && len(rest) == 1:
		r, err := st.Load(ctx, rest[0])
		if err != nil {
			return fail("sessions show %s: %v", rest[0], err)
		}
		info := infoOf(r)
		cmd := exec.CommandContext(ctx, python, "-I", "-c", readSessionsPy, "repr")
		cmd.Stdin = bytes.NewReader(r.Data)
		out, err := cmd.CombinedOutput()
		if err != nil {
			info.Data = fmt.Sprintf("(not readable: %v: %s)", err, bytes.TrimSpace(out))
		} else {
			info.Data = string(bytes.TrimSpace(out))
		}
		return controlReply{OK: true, Sessions: []sessionInfo{info}, Count: 1}
	case op == "delete" && len(rest) == 1:
		if _, err := st.Load(ctx, rest[0]); err != nil {
			return fail("sessions delete %s: %v", rest[0], err)
		}
		if err := st.Delete(ctx, rest[0]); err != nil {
			return fail("sessions delete %s: %v", rest[0], err)
		}
		return controlReply{OK: true, Count: 1}
	case op == "purge" && len(rest) == 0:
		n, err := st.Purge(ctx)
		if err != nil {
			return fail("sessions purge: %v", err)
		}
		return controlReply{OK: true, Count: n}
	case op == "import" && len(rest) == 2 && (rest[0] == "files" || rest[0] == "dbm"):
		n, skipped, err := importSessions(ctx, st, python, rest[0], rest[1])
		if err != nil {
			return fail("sessions import %s %s: %v", rest[0], rest[1], err)
		}
		return controlReply{OK: true, Count: n, Skipped: skipped}
	}
	return fail("sessions: bad arguments %q: want list, show ID, delete ID, purge or import files|dbm PATH", strings.Join(args, " "))
}

func infoOf(r *session.Record) sessionInfo {
	return sessionInfo{ID: r.ID, Created: r.Created, Accessed: r.Accessed, Timeout: int64(r.Timeout / time.Second),
		Expires: r.Accessed.Add(r.Timeout), Size: len(r.Data)}
}

// importSessions copies the sessions of a mod_python FileSession directory
// or DbmSession file into st, byte for byte, skipping the expired ones and
// those st has or imported before (session.Importer: a session mpgate took
// over is mpgate's, so importing again never rolls it back or brings back
// one a user logged out of). It returns how many were imported and how
// many skipped (expired, unreadable, not a session, or mpgate's already).
func importSessions(ctx context.Context, st session.Store, python, kind, path string) (imported, skipped int, err error) {
	cmd := exec.CommandContext(ctx, python, "-I", "-c", readSessionsPy, kind, path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	now := time.Now()
	var summary struct{ Read, Skipped int }
	for sc.Scan() {
		var rec struct {
			ID                string
			Data              string
			Created, Accessed float64
			Timeout           int64
			Summary           *struct{ Read, Skipped int }
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			return imported, skipped, fmt.Errorf("reader output: %w", err)
		}
		if rec.Summary != nil {
			summary = *rec.Summary
			continue
		}
		data, err := base64.StdEncoding.DecodeString(rec.Data)
		if err != nil {
			return imported, skipped, fmt.Errorf("session %s: %w", rec.ID, err)
		}
		r := &session.Record{ID: rec.ID, Data: data, Created: unixTime(rec.Created), Accessed: unixTime(rec.Accessed),
			Timeout: time.Duration(rec.Timeout) * time.Second}
		if rec.Timeout <= 0 || r.Expired(now) {
			skipped++
			continue
		}
		if imp, ok := st.(session.Importer); ok {
			// Taken over as a request's miss would: once, never over a
			// session mpgate has or had (it owns those).
			_, took, err := imp.Import(ctx, r, kind+":"+path)
			switch {
			case errors.Is(err, session.ErrImported) || errors.Is(err, session.ErrExpired) || err == nil && !took:
				skipped++
				continue
			case err != nil:
				return imported, skipped, fmt.Errorf("session %s: %w", rec.ID, err)
			}
		} else if err := st.Save(ctx, r); err != nil {
			return imported, skipped, fmt.Errorf("session %s: %w", rec.ID, err)
		}
		imported++
	}
	if err := cmd.Wait(); err != nil {
		return imported, skipped, fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return imported, skipped + summary.Skipped, nil
}

func unixTime(f float64) time.Time {
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9))
}

// openSessionStore opens the daemon's session database, as the daemon does.
func openSessionStore(c *cli.Context) (*session.BuntStore, error) {
	path, err := sessionDBPath(c)
	if err != nil {
		return nil, err
	}
	return session.Open(session.Options{Path: path, Sync: c.String("session-sync")})
}

// sessionDBPath is --session-db, by default STATE-DIR/sessions.db.
func sessionDBPath(c *cli.Context) (string, error) {
	if p := c.String("session-db"); p != "" {
		return filepath.Abs(p)
	}
	_, _, state, err := runDirs(c)
	if err != nil {
		return "", err
	}
	// The state directory also holds the runtime the workers (Apache's
	// user) read: create it readable before the store would create it 0700.
	if err := os.MkdirAll(state, 0o755); err != nil {
		return "", err
	}
	return filepath.Join(state, "sessions.db"), nil
}

// sessionFlags are the daemon's session settings.
func sessionFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "session-db", EnvVars: []string{"MPGATE_SESSION_DB"}, Usage: "session database `FILE` (default STATE-DIR/sessions.db, which is /var/lib/mpgate/sessions.db under packaging/mpgate.service)"},
		&cli.StringFlag{Name: "session-sync", EnvVars: []string{"MPGATE_SESSION_SYNC"}, Value: session.DefaultSync, Usage: "when saved sessions reach the disk: always (fsync per save), everysecond (an OS crash may lose the last second; a daemon crash loses nothing), never"},
		&cli.DurationFlag{Name: "session-lock-wait", EnvVars: []string{"MPGATE_SESSION_LOCK_WAIT"}, Usage: "longest wait for a session lock another request holds, then an error (default 60s)"},
	}
}

// sessionsCommand is `mpgate sessions`.
func sessionsCommand() *cli.Command {
	flags := append([]cli.Flag{
		&cli.StringFlag{Name: "run-dir", EnvVars: []string{"MPGATE_RUN_DIR"}, Value: "/run/mpgate", Usage: "the daemon's run `DIR`"},
		&cli.StringFlag{Name: "state-dir", EnvVars: []string{"MPGATE_STATE_DIR"}, Usage: "the daemon's state `DIR` (default RUN-DIR/state)"},
		&cli.StringFlag{Name: "python", EnvVars: []string{"MPGATE_PYTHON"}, Value: "/usr/bin/python3", Usage: "Python that reads mod_python's stores"},
		&cli.BoolFlag{Name: "json", Usage: "print the JSON reply"},
	}, sessionFlags()...)
	run := func(args ...string) cli.ActionFunc {
		return func(c *cli.Context) error {
			args := append(args, c.Args().Slice()...)
			for _, a := range args[1:] {
				if strings.HasPrefix(a, "-") {
					return cli.Exit(fmt.Sprintf("mpgate sessions: %q: flags go before the arguments (mpgate sessions %s [flags] ARGS)", a, args[0]), 2)
				}
			}
			if len(args) > 0 && args[0] == "import" && len(args) == 3 {
				// The daemon may run elsewhere in the file system's view:
				// give it an absolute path.
				if abs, err := filepath.Abs(args[2]); err == nil {
					args[2] = abs
				}
			}
			rep, err := sendControl(c.String("run-dir"), "sessions "+strings.Join(args, " "))
			if err != nil && strings.HasPrefix(err.Error(), "no mpgate daemon is running") {
				st, oerr := openSessionStore(c)
				if oerr != nil {
					return cli.Exit(fmt.Sprintf("%v; and the session database: %v", err, oerr), 1)
				}
				r := sessionOp(c.Context, st, c.String("python"), args)
				st.Close()
				rep, err = &r, nil
			}
			if err != nil {
				return cli.Exit(err.Error(), 1)
			}
			printSessions(c.App.Writer, args[0], rep, c.Bool("json"))
			if !rep.OK {
				return cli.Exit("mpgate "+rep.Error, 1)
			}
			return nil
		}
	}
	return &cli.Command{
		Name:  "sessions",
		Usage: "list, show, delete, purge or import mod_python sessions of the daemon's store",
		Subcommands: []*cli.Command{
			{Name: "list", Usage: "every live session: id, times, size", Flags: flags, Action: run("list")},
			{Name: "show", Usage: "one session's times and data", ArgsUsage: "ID", Flags: flags, Action: run("show")},
			{Name: "delete", Usage: "remove one session (its user is logged out)", ArgsUsage: "ID", Flags: flags, Action: run("delete")},
			{Name: "purge", Usage: "remove every expired session now", Flags: flags, Action: run("purge")},
			{Name: "import", Usage: "copy mod_python's sessions (FileSession directory, DbmSession file) into the store, so users stay logged in",
				ArgsUsage: "files DIR | dbm FILE", Flags: flags, Action: run("import")},
		},
	}
}

// printSessions writes a sessions reply for people (or as JSON).
func printSessions(w io.Writer, op string, rep *controlReply, asJSON bool) {
	if asJSON {
		out, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Fprintln(w, string(out))
		return
	}
	if !rep.OK {
		return
	}
	switch op {
	case "list":
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tCREATED\tACCESSED\tEXPIRES\tSIZE")
		for _, s := range rep.Sessions {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", s.ID, stamp(s.Created), stamp(s.Accessed), stamp(s.Expires), s.Size)
		}
		tw.Flush()
		fmt.Fprintf(w, "%d session(s)\n", rep.Count)
	case "show":
		for _, s := range rep.Sessions {
			fmt.Fprintf(w, "id        %s\ncreated   %s\naccessed  %s\ntimeout   %ds\nexpires   %s\nsize      %d bytes\ndata      %s\n",
				s.ID, stamp(s.Created), stamp(s.Accessed), s.Timeout, stamp(s.Expires), s.Size, s.Data)
		}
	case "delete":
		fmt.Fprintln(w, "deleted")
	case "purge":
		fmt.Fprintf(w, "%d expired session(s) removed\n", rep.Count)
	case "import":
		fmt.Fprintf(w, "%d session(s) imported, %d skipped (expired, unreadable, or mpgate's already)\n", rep.Count, rep.Skipped)
	}
}

func stamp(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05") }
