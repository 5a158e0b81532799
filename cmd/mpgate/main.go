// Command mpgate runs mod_python sites behind a stock Apache over FastCGI.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	// The first SIGINT/SIGTERM asks for a graceful stop (ctx); a second one
	// cuts the drain short (hard).
	ctx, stop := context.WithCancel(context.Background())
	hard, stopHard := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sigs
		stop()
		<-sigs
		stopHard()
	}()
	app := newApp(os.Stdout, os.Stderr)
	args := os.Args
	if cgiRequested() { // ScriptAlias runs the binary itself: no subcommand (cgi.go)
		args = []string{args[0], "cgi"}
	}
	err := app.RunContext(withHardStop(ctx, hard), args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mpgate:", err)
		os.Exit(exitCode(err))
	}
}
