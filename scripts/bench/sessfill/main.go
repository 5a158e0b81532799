// Command sessfill fills a session database for the sessions phase of
// scripts/bench.sh (make bench): it opens the file with package session, as
// the daemon does (so the daemon must be stopped: the store's flock keeps
// two processes off one file), and saves N records with random ids, each
// carrying the same data (the pickled dict a mod_python session saves,
// made by the script).
//
//	sessfill -db FILE -n N -data PICKLE [-accessed UNIX] [-timeout 1h]
//
// Every record gets Created = Accessed = -accessed (default now) and the
// timeout, so they all expire at the same instant: Accessed+Timeout. It
// prints one line: "saved=N seconds=S file_bytes=B".
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/mpgate/mpgate/session"
)

func main() {
	db := flag.String("db", "", "session database `FILE` (created if missing)")
	n := flag.Int("n", 1000, "records to save")
	dataFile := flag.String("data", "", "`FILE` whose bytes are every record's data")
	accessed := flag.Float64("accessed", 0, "Created and Accessed of every record, Unix seconds (default now)")
	timeout := flag.Duration("timeout", time.Hour, "every record's timeout")
	sync := flag.String("sync", session.DefaultSync, "sync policy (as the daemon's --session-sync)")
	flag.Parse()
	if *db == "" || *dataFile == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*db, *n, *dataFile, *accessed, *timeout, *sync); err != nil {
		fmt.Fprintln(os.Stderr, "sessfill:", err)
		os.Exit(1)
	}
}

func run(path string, n int, dataFile string, accessed float64, timeout time.Duration, sync string) error {
	data, err := os.ReadFile(dataFile)
	if err != nil {
		return err
	}
	at := time.Now()
	if accessed > 0 {
		sec, frac := math.Modf(accessed)
		at = time.Unix(int64(sec), int64(frac*1e9))
	}
	st, err := session.Open(session.Options{Path: path, Sync: sync, ShrinkEvery: -1})
	if err != nil {
		return err
	}
	ctx := context.Background()
	t0 := time.Now()
	id := make([]byte, 16)
	for i := 0; i < n; i++ {
		if _, err := rand.Read(id); err != nil {
			st.Close()
			return err
		}
		r := &session.Record{ID: hex.EncodeToString(id), Data: data, Created: at, Accessed: at, Timeout: timeout}
		if err := st.Save(ctx, r); err != nil {
			st.Close()
			return err
		}
	}
	if err := st.Close(); err != nil {
		return err
	}
	secs := time.Since(t0).Seconds()
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	fmt.Printf("saved=%d seconds=%.3f file_bytes=%d\n", n, secs, fi.Size())
	return nil
}
