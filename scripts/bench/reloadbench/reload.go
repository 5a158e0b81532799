// This file is the reload subcommand: a command that replaces the workers
// (`mpgate reload`) run under load against a handler that writes its pid.

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// reloadReport is what the reload subcommand prints.
type reloadReport struct {
	Kind    string   `json:"kind"` // "reload"
	URL     string   `json:"url"`
	Command []string `json:"command"`
	totals
	Reloads []reloadResult `json:"reloads"`
}

// reloadResult is one run of the command. Its window runs from the command's
// start to the next one's (or to the end of the load).
type reloadResult struct {
	AtMS           float64 `json:"at_ms"`             // command started, since the load's start
	CommandMS      float64 `json:"command_ms"`        // until it exited
	Exit           string  `json:"exit"`              // "ok", or the error and the command's output
	AllNewMS       float64 `json:"all_new_ms"`        // from the start to the last response from a pid seen before it (0: none after the start)
	ServedToAllNew int     `json:"served_to_all_new"` // responses received in that time
	FirstNewMS     float64 `json:"first_new_ms"`      // from the start to the first response from a pid not seen before it (-1: none)
	Failed         int     `json:"failed"`            // failed requests received in the window
	OldAfterReturn int     `json:"old_after_return"`  // 200s to requests sent after the command exited, from a pid seen before it started
	StallMS        float64 `json:"stall_ms"`          // the longest time in the window in which no response was received
	MaxRequestMS   float64 `json:"max_request_ms"`    // the slowest request received in the window
	PIDsBefore     int     `json:"pids_before"`       // distinct pids answering between the previous command's exit and this start
	PIDsAfter      int     `json:"pids_after"`        // distinct pids answering requests sent after the exit
	NewPIDsAfter   int     `json:"new_pids_after"`    // of those, pids not seen before the start
}

func runReload(args []string) (*reloadReport, error) {
	fs := flag.NewFlagSet("reload", flag.ContinueOnError)
	rawURL := fs.String("url", "", "URL of the handler, which writes os.getpid()")
	conns := fs.Int("c", 16, "connections (keep-alive, one request at a time each)")
	reloads := fs.Int("reloads", 5, "times to run the command")
	warm := fs.Duration("warm", 2*time.Second, "load before the first command")
	after := fs.Duration("after", 2*time.Second, "load after each command exits")
	wait := fs.Duration("wait", 10*time.Second, "give up waiting for a first response after this long")
	timeout := fs.Duration("timeout", 10*time.Second, "limit on one request")
	cmdTimeout := fs.Duration("command-timeout", 2*time.Minute, "limit on one run of the command (then it is killed)")
	raw := fs.String("raw", "", "write every request as TSV to this `file`")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	command := fs.Args()
	if *rawURL == "" || len(command) == 0 || *reloads < 1 {
		fs.Usage()
		return nil, errors.New("want -url, -reloads >= 1 and a command after --")
	}

	l, err := startLoad(*rawURL, *conns, *timeout)
	if err != nil {
		return nil, err
	}
	if !l.waitMax(1, *wait) {
		s := summarise(l.stop(), *conns, l.since())
		return nil, fmt.Errorf("no 200 response with a pid within %v: %d requests, statuses %v, first error %q",
			*wait, s.Requests, s.Statuses, s.FirstError)
	}
	time.Sleep(*warm)
	rep := &reloadReport{Kind: "reload", URL: *rawURL, Command: command}
	var starts, exits []time.Duration
	for range *reloads {
		ctx, cancel := context.WithTimeout(context.Background(), *cmdTimeout)
		start := l.since()
		out, err := exec.CommandContext(ctx, command[0], command[1:]...).CombinedOutput()
		exit := l.since()
		cancel()
		r := reloadResult{AtMS: round(ms(start), 3), CommandMS: round(ms(exit-start), 3), Exit: "ok"}
		if err != nil {
			r.Exit = fmt.Sprintf("%v: %s", err, strings.TrimSpace(string(out)))
			fmt.Fprintf(os.Stderr, "reloadbench reload: %s\n", r.Exit)
		}
		rep.Reloads = append(rep.Reloads, r)
		starts, exits = append(starts, start), append(exits, exit)
		time.Sleep(*after)
	}
	end := l.since()
	samples := l.stop()
	rep.totals = summarise(samples, *conns, end)
	if err := writeRaw(*raw, samples); err != nil {
		return nil, err
	}
	analyseReloads(rep, samples, starts, exits, end)
	for i, r := range rep.Reloads {
		fmt.Fprintf(os.Stderr, "reloadbench reload %d: command %.1f ms, all new after %.1f ms (%d responses), first new %.1f ms, %d failed, %d old after exit, pids %d -> %d (%d new), longest stall %.1f ms, slowest request %.1f ms\n",
			i+1, r.CommandMS, r.AllNewMS, r.ServedToAllNew, r.FirstNewMS, r.Failed, r.OldAfterReturn, r.PIDsBefore, r.PIDsAfter, r.NewPIDsAfter, r.StallMS, r.MaxRequestMS)
	}
	return rep, nil
}

// analyseReloads fills in rep.Reloads from samples, given when each run of
// the command started and exited, and when the load ended.
func analyseReloads(rep *reloadReport, samples []sample, starts, exits []time.Duration, end time.Duration) {
	for i := range rep.Reloads {
		r := &rep.Reloads[i]
		from, start, exit, to := time.Duration(0), starts[i], exits[i], end
		if i > 0 {
			from = exits[i-1]
		}
		if i+1 < len(starts) {
			to = starts[i+1]
		}
		old := map[int64]bool{} // pids answering since the previous command exited
		for _, s := range samples {
			if s.ok() && s.Recv >= from && s.Recv < start {
				old[s.Value] = true
			}
		}
		lastOld, firstNew := start, time.Duration(-1)
		after := map[int64]bool{} // pids answering requests sent after the exit
		var recvs []time.Duration
		for _, s := range samples {
			if s.Recv < start || s.Recv >= to {
				continue
			}
			recvs = append(recvs, s.Recv)
			r.MaxRequestMS = max(r.MaxRequestMS, round(ms(s.Recv-s.Sent), 3))
			switch {
			case !s.ok():
				r.Failed++
				continue
			case old[s.Value]:
				lastOld = max(lastOld, s.Recv)
				if s.Sent >= exit {
					r.OldAfterReturn++
				}
			case firstNew < 0 || s.Recv < firstNew:
				firstNew = s.Recv
			}
			if s.Sent >= exit {
				after[s.Value] = true
			}
		}
		for _, s := range samples {
			if s.Recv >= start && s.Recv <= lastOld {
				r.ServedToAllNew++
			}
		}
		slices.Sort(recvs)
		prev := start
		for _, t := range append(recvs, to) {
			r.StallMS = max(r.StallMS, round(ms(t-prev), 3))
			prev = t
		}
		r.AllNewMS = round(ms(lastOld-start), 3)
		r.FirstNewMS = -1
		if firstNew >= 0 {
			r.FirstNewMS = round(ms(firstNew-start), 3)
		}
		r.PIDsBefore, r.PIDsAfter = len(old), len(after)
		for v := range after {
			if !old[v] {
				r.NewPIDsAfter++
			}
		}
	}
}
