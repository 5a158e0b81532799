// This file is the edits subcommand: reload latency of a handler's
// dependency, edited by atomic rename under load.

package main

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"syscall"
	"time"
)

// editsReport is what the edits subcommand prints.
type editsReport struct {
	Kind string `json:"kind"` // "edits"
	URL  string `json:"url"`
	File string `json:"file"`
	totals
	Edits        int          `json:"edits"`
	BaseVersion  int64        `json:"base_version"` // VERSION before the first edit
	Reloaded     int          `json:"reloaded"`     // edits whose version was seen within -wait
	Missed       int          `json:"missed"`
	Latency      quantiles    `json:"latency_ms"`     // rename to first response showing the edit's version (or later)
	Stale        int          `json:"stale"`          // 200 responses to requests sent after a rename showing an older version
	StaleEdits   int          `json:"stale_edits"`    // edits with at least one stale response
	StaleWorstMS float64      `json:"stale_worst_ms"` // the latest receive of a stale response after its rename
	RenameMaxMS  float64      `json:"rename_max_ms"`  // the longest rename call, as the load generator saw it (a busy machine delays its return)
	PerEdit      []editResult `json:"per_edit"`
}

// editResult is one edit.
type editResult struct {
	Version      int64   `json:"version"`
	AtMS         float64 `json:"at_ms"`      // when rename returned, since the load's start
	RenameMS     float64 `json:"rename_ms"`  // from just before the rename call to AtMS
	LatencyMS    float64 `json:"latency_ms"` // -1: not seen
	GapMS        float64 `json:"gap_ms"`     // pause after the version was seen, before the next edit
	Stale        int     `json:"stale"`
	StaleWorstMS float64 `json:"stale_worst_ms"`
}

var versionLine = regexp.MustCompile(`(?m)^VERSION\s*=\s*(\d+)\s*$`)

func runEdits(args []string) (*editsReport, error) {
	fs := flag.NewFlagSet("edits", flag.ContinueOnError)
	rawURL := fs.String("url", "", "URL of the handler, which writes its dependency's VERSION")
	file := fs.String("file", "", "the dependency to rewrite: a .py `file` holding VERSION = N")
	conns := fs.Int("c", 16, "connections (keep-alive, one request at a time each)")
	edits := fs.Int("edits", 50, "number of edits")
	gapMin := fs.Duration("gap-min", 10*time.Millisecond, "shortest pause between seeing an edit and the next edit")
	gapMax := fs.Duration("gap-max", 50*time.Millisecond, "longest such pause (uniformly random in between)")
	warm := fs.Duration("warm", time.Second, "load before the first edit")
	tail := fs.Duration("tail", 500*time.Millisecond, "load after the last edit was seen")
	wait := fs.Duration("wait", 10*time.Second, "give up waiting for an edit's version after this long")
	timeout := fs.Duration("timeout", 10*time.Second, "limit on one request")
	raw := fs.String("raw", "", "write every request as TSV to this `file`")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if *rawURL == "" || *file == "" || fs.NArg() != 0 || *edits < 1 || *gapMax < *gapMin {
		fs.Usage()
		return nil, errors.New("want -url, -file, -edits >= 1 and -gap-max >= -gap-min")
	}
	src, err := os.ReadFile(*file)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(*file)
	if err != nil {
		return nil, err
	}

	l, err := startLoad(*rawURL, *conns, *timeout)
	if err != nil {
		return nil, err
	}
	if !l.waitMax(0, *wait) {
		s := summarise(l.stop(), *conns, l.since())
		return nil, fmt.Errorf("no 200 response with a version within %v: %d requests, statuses %v, first error %q",
			*wait, s.Requests, s.Statuses, s.FirstError)
	}
	time.Sleep(*warm)
	base := l.max.Load()
	if m := versionLine.FindSubmatch(src); m != nil {
		if v, err := strconv.ParseInt(string(m[1]), 10, 64); err == nil && v > base {
			base = v
		}
	}

	rep := &editsReport{Kind: "edits", URL: *rawURL, File: *file, Edits: *edits, BaseVersion: base}
	at := make([]time.Duration, *edits)
	for i := range *edits {
		v := base + int64(i) + 1
		var before time.Duration
		if before, at[i], err = replace(*file, fmt.Sprintf("VERSION = %d\n", v), fi, l.since); err != nil {
			l.stop()
			return nil, fmt.Errorf("edit %d: %w", i+1, err)
		}
		e := editResult{Version: v, AtMS: round(ms(at[i]), 3), RenameMS: round(ms(at[i]-before), 3), LatencyMS: -1}
		rep.RenameMaxMS = max(rep.RenameMaxMS, e.RenameMS)
		if l.waitMax(v, *wait) {
			rep.Reloaded++
		} else {
			rep.Missed++
			fmt.Fprintf(os.Stderr, "reloadbench edits: version %d not seen within %v\n", v, *wait)
		}
		gap := *gapMin + time.Duration(rand.Int64N(int64(*gapMax-*gapMin)+1))
		e.GapMS = round(ms(gap), 3)
		rep.PerEdit = append(rep.PerEdit, e)
		time.Sleep(gap)
	}
	time.Sleep(*tail)
	end := l.since()
	samples := l.stop()
	rep.totals = summarise(samples, *conns, end)
	if err := writeRaw(*raw, samples); err != nil {
		return nil, err
	}

	analyseEdits(rep, samples, at)
	fmt.Fprintf(os.Stderr, "reloadbench edits: %d edits, %d seen; latency ms min %.1f p50 %.1f p99 %.1f max %.1f; %d requests, %d failed, %d stale (worst %.1f ms); longest rename call %.1f ms\n",
		rep.Edits, rep.Reloaded, rep.Latency.Min, rep.Latency.P50, rep.Latency.P99, rep.Latency.Max, rep.Requests, rep.Failed, rep.Stale, rep.StaleWorstMS, rep.RenameMaxMS)
	return rep, nil
}

// analyseEdits fills in rep's latencies and stale responses from samples
// (ordered by send time), given at[i], when the rename of rep.PerEdit[i]
// returned.
func analyseEdits(rep *editsReport, samples []sample, at []time.Duration) {
	// Latency of edit i: the first receive of a 200 showing its version or a
	// later one, minus the time its rename returned.
	var lat []time.Duration
	for i := range rep.PerEdit {
		e := &rep.PerEdit[i]
		first := time.Duration(-1)
		for _, s := range samples {
			if s.ok() && s.Value >= e.Version && (first < 0 || s.Recv < first) {
				first = s.Recv
			}
		}
		if first >= 0 {
			e.LatencyMS = round(ms(first-at[i]), 3)
			lat = append(lat, first-at[i])
		}
	}
	rep.Latency = quantilesOf(lat)

	// Stale: a 200 to a request sent after edit i's rename returned (the
	// latest such edit, no grace), showing a version older than i's.
	for _, s := range samples {
		if !s.ok() {
			continue
		}
		i := sort.Search(len(at), func(i int) bool { return at[i] >= s.Sent }) - 1
		if i < 0 || s.Value >= rep.PerEdit[i].Version {
			continue
		}
		e := &rep.PerEdit[i]
		if e.Stale == 0 {
			rep.StaleEdits++
		}
		e.Stale++
		rep.Stale++
		w := round(ms(s.Recv-at[i]), 3)
		e.StaleWorstMS = max(e.StaleWorstMS, w)
		rep.StaleWorstMS = max(rep.StaleWorstMS, w)
	}
}

// replace writes content to a new file beside path, with path's mode and
// owner (fi), and renames it over path; it returns now() taken right before
// the rename call and right after it returned.
func replace(path, content string, fi os.FileInfo, now func() time.Duration) (before, after time.Duration, err error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".reloadbench-*.tmp")
	if err != nil {
		return 0, 0, err
	}
	tmp := f.Name()
	_, err = f.WriteString(content)
	if err == nil {
		err = f.Chmod(fi.Mode().Perm())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && err == nil && os.Geteuid() == 0 {
		err = f.Chown(int(st.Uid), int(st.Gid))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		before = now()
		err = os.Rename(tmp, path)
		after = now()
	}
	if err != nil {
		os.Remove(tmp)
		return 0, 0, err
	}
	return before, after, nil
}
