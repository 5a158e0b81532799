// This file is `mpgate config check`: read a configuration as the daemon
// would and report errors, warnings and the Python configuration per section.

package main

import (
	"github.com/urfave/cli/v2"

	"github.com/mpgate/mpgate/config"
)

func configCommand() *cli.Command {
	return &cli.Command{
		Name:  "config",
		Usage: "configuration tools",
		Subcommands: []*cli.Command{{
			Name:      "check",
			Usage:     "read an Apache configuration as mpgate does; print errors, warnings and the Python configuration per section",
			ArgsUsage: "FILE",
			Flags:     siteFlags()[1:], // FILE is the argument, not --config
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return cli.Exit("usage: mpgate config check FILE", 2)
				}
				log, err := newLogger(c)
				if err != nil {
					return err
				}
				cfg, err := config.Load(c.Args().First(), configOptions(c, log))
				if cfg == nil {
					return cli.Exit(err.Error(), 1)
				}
				defer cfg.Close()
				// Check lists every error and warning with file:line.
				if cerr := config.Check(cfg, c.App.Writer); cerr != nil {
					return cerr
				}
				if err != nil {
					return cli.Exit("configuration has errors", 1)
				}
				return nil
			},
		}},
	}
}
