// Command reloadbench is the load generator of the import phase of `make bench`
// (scripts/bench.sh, phase 4): it keeps a closed-loop keep-alive load on one URL
// of a running system, changes the system while the load runs, and prints, as
// one JSON object, what the clients saw. scripts/bench/report.py turns that into
// BENCHMARKS.md.
//
// Usage:
//
//	reloadbench edits  -url URL -file DEP.py [-c 16] [-edits 50] [-raw FILE]
//	reloadbench reload -url URL [-c 16] [-reloads 5] [-raw FILE] -- CMD ARGS...
//
// edits rewrites DEP.py (a module the handler at URL imports, holding
// "VERSION = N", whose value the handler writes) by atomic rename, waiting after
// each edit until a response shows the new version; it reports, per edit, the
// time from the rename to the first such response, the failed requests of the
// whole run and the stale responses (requests sent after a rename that still
// show an older version).
//
// reload runs CMD (`mpgate reload --run-dir RUN`) under load against a handler
// that writes os.getpid(), and reports the command's duration, the time until
// every response comes from a worker not seen before the command, and the
// failed requests.
//
// Every request is recorded (send and receive time, status, the number in the
// body); -raw writes them as TSV. The program asserts nothing about time: it
// measures and prints.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
)

const usage = `usage:
  reloadbench edits  -url URL -file DEP.py [flags]    reload latency of 50 edits under load
  reloadbench reload -url URL [flags] -- CMD ARGS...  CMD (mpgate reload) under load
  reloadbench CMD -h                                  flags of CMD`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	var (
		rep any
		err error
	)
	switch os.Args[1] {
	case "edits":
		rep, err = runEdits(os.Args[2:])
	case "reload":
		rep, err = runReload(os.Args[2:])
	default:
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "reloadbench %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		fmt.Fprintf(os.Stderr, "reloadbench: %v\n", err)
		os.Exit(1)
	}
}
