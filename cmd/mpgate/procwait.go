// This file waits for processes mpgate did not start itself and so cannot
// wait(2) for: the daemon a relay started, in a session of its own.

package main

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// processExited reports whether pid has exited: no such process, or a
// zombie waiting for its parent.
func processExited(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// waitExited waits until pid has exited, at most d, or until ctx ends; it
// reports whether the process exited. The kernel tells when it does (a
// pidfd becomes readable); where pidfds are missing (Linux < 5.3) the
// process is looked at every 50 ms.
func waitExited(ctx context.Context, pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return true
		}
		fd = -1
	} else {
		defer unix.Close(fd)
	}
	for !processExited(pid) {
		left := time.Until(deadline)
		if left <= 0 || ctx.Err() != nil {
			return false
		}
		// Slices of at most 50 ms, so that ctx is seen; the pidfd wakes
		// the wait as soon as the process exits.
		slice := min(left, 50*time.Millisecond)
		if fd < 0 {
			select {
			case <-ctx.Done():
			case <-time.After(slice):
			}
			continue
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, int(slice/time.Millisecond)+1); err != nil && !errors.Is(err, unix.EINTR) {
			return processExited(pid)
		}
	}
	return true
}
