// This file assembles the command-line application and the settings shared
// by the daemon-related commands.

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/mpgate/mpgate/config"
)

type hardStopKey struct{}

// withHardStop attaches the context that a second signal cancels.
func withHardStop(ctx, hard context.Context) context.Context {
	return context.WithValue(ctx, hardStopKey{}, hard)
}

// hardStop returns the context a second signal cancels (never cancelled
// when none was attached, as in tests).
func hardStop(ctx context.Context) context.Context {
	if h, ok := ctx.Value(hardStopKey{}).(context.Context); ok {
		return h
	}
	return context.Background()
}

func exitCode(err error) int {
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return 1
}

// newApp returns the mpgate CLI writing to stdout and stderr.
func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:    "mpgate",
		Usage:   "run mod_python sites behind a stock Apache, over FastCGI",
		Version: version,
		Description: "mpgate reads a site's Apache configuration (its PythonHandler, PythonPath, PythonOption ...\n" +
			"directives) and runs its mod_python handlers unchanged in Python worker processes.\n" +
			"Apache forwards requests to it with mod_proxy_fcgi (mpgate serve) or mod_fcgid (mpgate fcgid).",
		Writer:               stdout,
		ErrWriter:            stderr,
		EnableBashCompletion: true,
		Commands: append([]*cli.Command{
			serveCommand(),
			fcgidCommand(),
			cgiCommand(),
			previewCommand(),
			migrateCommand(),
			configCommand(),
			explainCommand(),
			sessionsCommand(),
			{
				Name:  "version",
				Usage: "print the version",
				Action: func(c *cli.Context) error {
					fmt.Fprintf(c.App.Writer, "mpgate %s\n", version)
					return nil
				},
			},
		}, controlCommands()...),
	}
}

// siteFlags are the flags that say which configuration to read, shared by
// serve, fcgid and config check.
func siteFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "config", Aliases: []string{"f"}, EnvVars: []string{"MPGATE_CONFIG"}, Usage: "Apache configuration `FILE` to read (httpd.conf, apache2.conf or a site fragment)", Required: true},
		&cli.StringFlag{Name: "server-root", EnvVars: []string{"MPGATE_SERVER_ROOT"}, Value: "/etc/apache2", Usage: "Apache's ServerRoot, for relative Include paths and envvars"},
		&cli.StringSliceFlag{Name: "define", Aliases: []string{"D"}, EnvVars: []string{"MPGATE_DEFINES"}, Usage: "`NAME` defined as with apache2 -D (repeatable), for <IfDefine> and apache.exists_config_define(): Apache's own -D flags do not reach mpgate"},
		&cli.StringFlag{Name: "server-name", EnvVars: []string{"MPGATE_SERVER_NAME"}, Usage: "main server's `NAME` when the configuration sets no ServerName (default: this host's name, as Apache)"},
		&cli.StringFlag{Name: "log-level", EnvVars: []string{"MPGATE_LOG_LEVEL"}, Value: "info", Usage: "debug, info, warn or error"},
	}
}

// daemonFlags are the flags of the daemon, shared by serve and by fcgid
// (which starts the daemon with them).
func daemonFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "run-dir", EnvVars: []string{"MPGATE_RUN_DIR"}, Value: "/run/mpgate", Usage: "`DIR` for the socket, pid and lock files (not under a private /tmp)"},
		&cli.StringFlag{Name: "socket", EnvVars: []string{"MPGATE_SOCKET"}, Usage: "unix socket `PATH` for FastCGI (default RUN-DIR/mpgate.sock)"},
		&cli.StringFlag{Name: "state-dir", EnvVars: []string{"MPGATE_STATE_DIR"}, Usage: "`DIR` for the unpacked Python runtime (default RUN-DIR/state)"},
		&cli.StringFlag{Name: "python", EnvVars: []string{"MPGATE_PYTHON"}, Value: "/usr/bin/python3", Usage: "Python interpreter the workers run"},
		&cli.IntFlag{Name: "workers", EnvVars: []string{"MPGATE_WORKERS"}, Usage: "maximum worker processes per interpreter (default 2 per CPU, at least 4)"},
		&cli.DurationFlag{Name: "request-timeout", EnvVars: []string{"MPGATE_REQUEST_TIMEOUT"}, Usage: "longest a request may run before its worker is killed (default 300s)"},
		&cli.Int64Flag{Name: "max-body", EnvVars: []string{"MPGATE_MAX_BODY"}, Usage: "largest request body in bytes a handler may read (default 1 GiB)"},
		&cli.StringFlag{Name: "user", EnvVars: []string{"MPGATE_USER"}, Value: "www-data", Usage: "user the workers run as when mpgate runs as root"},
		&cli.StringFlag{Name: "socket-group", EnvVars: []string{"MPGATE_SOCKET_GROUP"}, Value: "www-data", Usage: "group allowed to connect to the socket (Apache's)"},
		&cli.StringFlag{Name: "watch", EnvVars: []string{"MPGATE_WATCH"}, Value: "auto", Usage: "how changed site modules are noticed: auto (inotify, polling where it fails), poll, or off (never reload in place)"},
		&cli.DurationFlag{Name: "poll-interval", EnvVars: []string{"MPGATE_POLL_INTERVAL"}, Usage: "period of polling for changed modules where inotify is not used (default 1s)"},
		&cli.DurationFlag{Name: "idle-exit", EnvVars: []string{"MPGATE_IDLE_EXIT"}, Usage: "exit after this long without a request (0: never; the fcgid relay starts daemons with 10m)"},
	}, sessionFlags()...)
}

// newLogger returns the logger of a command, writing Apache-style lines.
func newLogger(c *cli.Context) (*slog.Logger, error) {
	level, err := parseLevel(c.String("log-level"))
	if err != nil {
		return nil, cli.Exit(err.Error(), 2)
	}
	return slog.New(newApacheHandler(c.App.ErrWriter, level)), nil
}

// loadConfig reads the configuration named by the site flags.
func loadConfig(c *cli.Context, log *slog.Logger) (*config.Config, error) {
	path, err := filepath.Abs(c.String("config"))
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load(path, configOptions(c, log))
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings {
		log.Warn(w.String())
	}
	return cfg, nil
}

// configOptions are the config.Options the site flags say.
func configOptions(c *cli.Context, log *slog.Logger) config.Options {
	name := c.String("server-name")
	if name == "" {
		name, _ = os.Hostname()
	}
	return config.Options{
		ServerRoot: c.String("server-root"),
		Defines:    c.StringSlice("define"),
		ServerName: name,
		Logger:     log,
	}
}

// runDirs returns the run directory, socket and state directory.
func runDirs(c *cli.Context) (run, sock, state string, err error) {
	run, err = filepath.Abs(c.String("run-dir"))
	if err != nil {
		return
	}
	sock = c.String("socket")
	if sock == "" {
		sock = filepath.Join(run, "mpgate.sock")
	}
	state = c.String("state-dir")
	if state == "" {
		state = filepath.Join(run, "state")
	}
	return run, sock, state, nil
}
