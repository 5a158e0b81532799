package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync/atomic"
	"testing"
	"time"
)

func msd(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }

// ok200 is a 200 sample sent and received at the given milliseconds.
func ok200(sent, recv float64, v int64) sample {
	return sample{Sent: msd(sent), Recv: msd(recv), Status: 200, Value: v}
}

func TestLastNumber(t *testing.T) {
	for _, tc := range []struct {
		body string
		want int64
	}{
		{"VERSION 7\n", 7},
		{"12345\n", 12345},
		{"Hello world\n", -1},
		{"", -1},
		{"VERSION -3", -1},
	} {
		if got := lastNumber([]byte(tc.body)); got != tc.want {
			t.Errorf("lastNumber(%q) = %d, want %d", tc.body, got, tc.want)
		}
	}
}

func TestQuantilesNearestRank(t *testing.T) {
	var ds []time.Duration
	for i := 50; i >= 1; i-- {
		ds = append(ds, msd(float64(i)))
	}
	got := quantilesOf(ds)
	want := quantiles{N: 50, Min: 1, P50: 25, P90: 45, P99: 50, Max: 50}
	if got != want {
		t.Errorf("quantilesOf(1..50 ms) = %+v, want %+v", got, want)
	}
	if got := quantilesOf(nil); got != (quantiles{}) {
		t.Errorf("quantilesOf(nil) = %+v, want zero", got)
	}
}

func TestAnalyseEdits(t *testing.T) {
	// Edit 1 (version 1) at 100 ms, edit 2 (version 2) at 200 ms.
	at := []time.Duration{msd(100), msd(200)}
	samples := []sample{
		ok200(90, 105, 0),  // sent before edit 1: not stale
		ok200(101, 104, 0), // sent after edit 1, old: stale, window 4 ms
		ok200(102, 110, 0), // stale, window 10 ms
		ok200(103, 112, 1), // first version 1: latency 12 ms
		ok200(150, 151, 1), // current
		{Sent: msd(201), Recv: msd(203), Status: 500, Value: -1}, // failed, never stale
		ok200(202, 230, 1), // stale for edit 2, window 30 ms
		ok200(205, 207, 2), // first version 2: latency 7 ms
	}
	rep := &editsReport{PerEdit: []editResult{{Version: 1}, {Version: 2}}}
	analyseEdits(rep, samples, at)
	if rep.Stale != 3 || rep.StaleEdits != 2 || rep.StaleWorstMS != 30 {
		t.Errorf("stale = %d in %d edits, worst %v ms; want 3 in 2, worst 30", rep.Stale, rep.StaleEdits, rep.StaleWorstMS)
	}
	if got := []float64{rep.PerEdit[0].LatencyMS, rep.PerEdit[1].LatencyMS}; !reflect.DeepEqual(got, []float64{12, 7}) {
		t.Errorf("latencies = %v ms, want [12 7]", got)
	}
	if rep.PerEdit[0].Stale != 2 || rep.PerEdit[0].StaleWorstMS != 10 {
		t.Errorf("edit 1: %d stale, worst %v ms; want 2, worst 10", rep.PerEdit[0].Stale, rep.PerEdit[0].StaleWorstMS)
	}
	if rep.Latency.N != 2 || rep.Latency.Max != 12 {
		t.Errorf("latency quantiles = %+v, want n 2, max 12", rep.Latency)
	}
}

func TestAnalyseEditsNeverSeen(t *testing.T) {
	rep := &editsReport{PerEdit: []editResult{{Version: 1, LatencyMS: -1}}}
	analyseEdits(rep, []sample{ok200(150, 151, 0)}, []time.Duration{msd(100)})
	if rep.PerEdit[0].LatencyMS != -1 || rep.Latency.N != 0 || rep.Stale != 1 {
		t.Errorf("edit never seen: latency %v, quantiles %+v, stale %d; want -1, none, 1", rep.PerEdit[0].LatencyMS, rep.Latency, rep.Stale)
	}
}

func TestAnalyseReloads(t *testing.T) {
	// Workers 10 and 11 before the command (run from 100 to 150 ms); 20 and
	// 21 after it. The last old answer arrives at 120 ms; nothing arrives
	// between 120 and 140 ms.
	samples := []sample{
		ok200(50, 60, 10),
		ok200(55, 70, 11),
		ok200(100, 110, 10),
		ok200(101, 120, 11),
		ok200(111, 140, 20),
		{Sent: msd(121), Recv: msd(141), Status: 502, Value: -1},
		ok200(151, 152, 20),
		ok200(151, 153, 21),
	}
	rep := &reloadReport{Reloads: []reloadResult{{}}}
	analyseReloads(rep, samples, []time.Duration{msd(100)}, []time.Duration{msd(150)}, msd(160))
	got := rep.Reloads[0]
	want := reloadResult{AllNewMS: 20, ServedToAllNew: 2, FirstNewMS: 40, Failed: 1, StallMS: 20, MaxRequestMS: 29,
		PIDsBefore: 2, PIDsAfter: 2, NewPIDsAfter: 2}
	if got != want {
		t.Errorf("analyseReloads = %+v\nwant %+v", got, want)
	}
}

// TestLoad runs a load against a local server whose answers count up, and
// checks that every request is recorded and that waitMax sees the count;
// then one against a path that fails.
func TestLoad(t *testing.T) {
	var n atomic.Int64
	failed := make(chan struct{}, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			http.Error(w, "no", http.StatusInternalServerError)
			select {
			case failed <- struct{}{}:
			default:
			}
			return
		}
		fmt.Fprintf(w, "VERSION %d\n", n.Add(1))
	}))
	defer srv.Close()
	l, err := startLoad(srv.URL+"/x", 4, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !l.waitMax(20, time.Minute) {
		t.Fatalf("waitMax(20): no response showing 20 or more")
	}
	samples := l.stop()
	tot := summarise(samples, 4, time.Second)
	if tot.Requests < 20 || tot.Failed != 0 || tot.NoValue != 0 || tot.Statuses["200"] != tot.Requests {
		t.Errorf("summarise = %+v; want >= 20 requests, all 200 with a value", tot)
	}
	for i, s := range samples {
		if s.Recv < s.Sent || (i > 0 && s.Sent < samples[i-1].Sent) {
			t.Fatalf("sample %d = %+v: received before sent, or out of send order", i, s)
		}
	}

	l, err = startLoad(srv.URL+"/fail", 2, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		<-failed
	}
	tot = summarise(l.stop(), 2, time.Second)
	if tot.Requests < 9 || tot.Failed != tot.Requests || tot.Transport != 0 || l.max.Load() != -1 {
		t.Errorf("against /fail: %+v, max %d; want >= 9 requests, every one failed with status 500, no value", tot, l.max.Load())
	}
}
