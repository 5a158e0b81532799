package session

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// The crash child: TestMain re-executes the test binary with these set; it
// saves crashRecords records, says so on stdout and SIGKILLs itself,
// without closing the store (stdlib net/http/cgi/host_test.go runs its
// helpers the same way).
const (
	envCrashDB   = "MPGATE_SESSION_TEST_CRASH_DB"
	envCrashSync = "MPGATE_SESSION_TEST_CRASH_SYNC"
	crashRecords = 200
)

func TestMain(m *testing.M) {
	if path := os.Getenv(envCrashDB); path != "" {
		crashChild(path, os.Getenv(envCrashSync))
	}
	os.Exit(m.Run())
}

func crashChild(path, policy string) {
	s, err := Open(Options{Path: path, Sync: policy})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for i := 0; i < crashRecords; i++ {
		if err := s.Save(context.Background(), newRecord(testID(i), fmt.Sprintf("record %d", i), time.Hour)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	// The last Save has returned: the daemon dies now, no Close, no fsync.
	fmt.Printf("saved %d\n", crashRecords)
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

// TestDaemonCrashKeepsSaves: a process that SIGKILLs itself right after
// Save returned loses nothing, under every sync policy, since buntdb
// write(2)s every commit before returning and the page cache outlives the
// process. (An OS crash is another matter: see the package doc.)
func TestDaemonCrashKeepsSaves(t *testing.T) {
	for _, policy := range []string{"", SyncAlways, SyncEverySecond, SyncNever} {
		name := policy
		if name == "" {
			name = "default"
		}
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sessions.db")
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0])
			cmd.Env = append(os.Environ(), envCrashDB+"="+path, envCrashSync+"="+policy)
			cmd.Stderr = logWriter{t}
			out, err := cmd.Output()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || !ee.Sys().(syscall.WaitStatus).Signaled() || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("crash child: %v, want killed by SIGKILL", err)
			}
			if want := fmt.Sprintf("saved %d\n", crashRecords); string(out) != want {
				t.Fatalf("crash child said %q, want %q", out, want)
			}
			// The dead child's lock file still names it; its flock is gone.
			s := newTestStore(t, Options{Path: path})
			for i := 0; i < crashRecords; i++ {
				r, err := s.Load(context.Background(), testID(i))
				if err != nil || string(r.Data) != fmt.Sprintf("record %d", i) {
					t.Fatalf("after the crash Load(%d) = %+v, %v; want it saved", i, r, err)
				}
			}
		})
	}
}
