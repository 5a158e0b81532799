// This file manages one Python worker process from the daemon's side:
// starting it with its protocol socket, the HELLO handshake, frame I/O,
// logging its output, and stopping it.

package dispatch

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mpgate/mpgate/importer"
)

// ErrWorkerGone is returned when a worker process exits or closes its
// protocol socket while the daemon expects a frame from it.
var ErrWorkerGone = errors.New("worker exited")

// Worker exit codes, shared with pyrt/mpgate/worker.py.
const (
	exitOK            = 0
	exitBootError     = 3 // the runtime could not start (bad Python, import error in the runtime)
	exitProtocolError = 4 // the worker received a malformed frame or lost the daemon mid-request
)

// orphanSocketGrace is how long after a worker's exit the daemon closes its
// end of the protocol socket, for the case where a process the worker forked
// still holds the other end.
const orphanSocketGrace = time.Second

// helloTimeout bounds a worker's start-up, from exec to HELLO.
const helloTimeout = 30 * time.Second

// worker is one Python process. It serves one request at a time; the pool
// hands it to one request goroutine, which alone uses conn, fr and wbuf until
// it gives the worker back.
type worker struct {
	id     int
	pid    int
	interp string
	cmd    *exec.Cmd
	conn   *net.UnixConn
	br     *bufio.Reader // under fr; Buffered tells whether more frames already arrived
	fr     *FrameReader
	log    *slog.Logger

	wmu  sync.Mutex // guards wbuf and writes to conn (a SHUTDOWN may race a request's frames)
	wbuf []byte

	configs  configCache    // config ids this worker holds
	served   int            // requests served
	epoch    int            // the pool's epoch when it started (guarded by the pool's mu)
	retire   bool           // replaced by recycle: stop when its request ends (guarded by the pool's mu)
	owner    importer.Owner // the worker's key in the module registry
	lastUsed time.Time      // when it was last given back to the pool

	exited   chan struct{} // closed when the process has been reaped
	waitErr  error         // the process's exit status; valid after exited is closed
	stopOnce sync.Once
}

// workerSpec is what a pool needs to start workers.
type workerSpec struct {
	python string // interpreter binary
	boot   string // path of bootstrap.py
	// optimize reports, when the worker starts, whether it runs as
	// python -OO (PythonOptimize On); nil means no.
	optimize func() bool
	interp   string // mod_python interpreter name
	env      []string
	cred     *syscall.Credential
	log      *slog.Logger
	onExit   func(*worker) // called once the process has been reaped
	// init returns the CONTROL worker.init payload a new worker gets
	// before its HELLO (lifecycle.go), and whether it has PythonImports to
	// run; nil sends none.
	init func() (payload []byte, imports bool)
	// importTimeout bounds a start-up that runs PythonImports, as a
	// request is bounded (helloTimeout when shorter).
	importTimeout time.Duration
}

// startWorker execs a worker, sends it worker.init and waits for its HELLO,
// logging what it logs meanwhile (its PythonImports).
func startWorker(spec *workerSpec, id int) (*worker, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("start worker: socketpair: %w", err)
	}
	parent := os.NewFile(uintptr(fds[0]), "mpgate-worker-parent")
	child := os.NewFile(uintptr(fds[1]), "mpgate-worker-child")
	defer child.Close()
	fc, err := net.FileConn(parent)
	parent.Close()
	if err != nil {
		return nil, fmt.Errorf("start worker: %w", err)
	}
	conn := fc.(*net.UnixConn)

	outR, outW, err := os.Pipe()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("start worker: pipe: %w", err)
	}
	args := []string{"-s", spec.boot}
	if spec.optimize != nil && spec.optimize() {
		args = []string{"-s", "-OO", spec.boot}
	}
	cmd := exec.Command(spec.python, args...)
	cmd.Dir = "/"
	cmd.Env = append(append([]string(nil), spec.env...),
		"MPGATE_INTERPRETER="+spec.interp,
		"MPGATE_WORKER_ID="+strconv.Itoa(id))
	var initPayload []byte
	imports := false
	if spec.init != nil {
		initPayload, imports = spec.init()
		cmd.Env = append(cmd.Env, "MPGATE_WORKER_INIT=1")
	}
	cmd.ExtraFiles = []*os.File{child} // fd 3
	cmd.Stdin = nil
	cmd.Stdout = outW
	cmd.Stderr = outW
	// The worker dies with the daemon, whatever kills the daemon.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true, Credential: spec.cred}
	if err := cmd.Start(); err != nil {
		conn.Close()
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("start worker: %w", err)
	}
	outW.Close()
	w := &worker{
		id:     id,
		pid:    cmd.Process.Pid,
		interp: spec.interp,
		cmd:    cmd,
		conn:   conn,
		br:     bufio.NewReaderSize(conn, 64<<10),
		log:    spec.log.With("worker", id, "pid", cmd.Process.Pid, "interpreter", spec.interp),
		exited: make(chan struct{}),
	}
	w.fr = NewFrameReader(w.br)
	go w.logOutput(outR)
	w.owner = importer.Owner{Interpreter: spec.interp, Worker: id, PID: w.pid}
	go func() {
		w.waitErr = cmd.Wait()
		close(w.exited)
		// The kernel closed the worker's end of the socket: a request
		// goroutine reading sees ECONNRESET if its REQUEST was never read
		// (so it may run elsewhere) or EOF. Closing our end here would
		// hide that difference; close it only if some other process (a
		// fork of the worker) still holds the worker's end.
		time.AfterFunc(orphanSocketGrace, func() { conn.Close() })
		if spec.onExit != nil {
			spec.onExit(w)
		}
	}()

	startTimeout := helloTimeout
	if imports {
		startTimeout = max(helloTimeout, spec.importTimeout)
	}
	conn.SetDeadline(time.Now().Add(startTimeout))
	if initPayload != nil {
		// A worker that died at once makes this fail; reading then says how.
		w.send(FrameControl, 0, initPayload)
	}
	hello, err := w.awaitHello()
	if err == nil && Get(hello, "protocol") != strconv.Itoa(ProtocolVersion) {
		err = fmt.Errorf("worker speaks protocol %q, daemon %d", Get(hello, "protocol"), ProtocolVersion)
	}
	if err != nil {
		if imports && isTimeout(err) {
			err = fmt.Errorf("its PythonImports did not finish within %v: %w", startTimeout, err)
		}
		w.kill()
		<-w.exited
		return nil, fmt.Errorf("start worker %d (%s %s): %w", id, spec.python, spec.boot, w.describeExit(err))
	}
	conn.SetDeadline(time.Time{})
	size, err := strconv.Atoi(Get(hello, "config_cache"))
	if err != nil || size < 1 {
		size = 1 // a worker that does not say keeps at least the last one
	}
	w.configs = configCache{size: size, used: make(map[uint32]uint64)}
	w.log.Debug("worker started", "python", Get(hello, "python"))
	return w, nil
}

// describeExit turns an I/O error on a worker that has exited into an error
// naming its exit status.
func (w *worker) describeExit(err error) error {
	select {
	case <-w.exited:
		if w.waitErr != nil {
			var ee *exec.ExitError
			if errors.As(w.waitErr, &ee) {
				switch ee.ExitCode() {
				case exitBootError:
					return fmt.Errorf("%w: runtime failed to start (exit %d; see the worker output above)", ErrWorkerGone, exitBootError)
				case exitProtocolError:
					return fmt.Errorf("%w: worker reported a protocol error (exit %d)", ErrWorkerGone, exitProtocolError)
				}
			}
			return fmt.Errorf("%w: %v (%w)", ErrWorkerGone, w.waitErr, err)
		}
		return fmt.Errorf("%w (%w)", ErrWorkerGone, err)
	default:
	}
	if errors.Is(err, io.EOF) {
		return ErrWorkerGone
	}
	return err
}

// logOutput logs what the process writes to stdout/stderr outside requests
// (start-up errors, output of background threads), one entry per line.
func (w *worker) logOutput(r io.ReadCloser) {
	defer r.Close()
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 4096), 1<<20)
	for s.Scan() {
		w.log.Warn("worker output", "line", s.Text())
	}
}

// send writes one frame.
func (w *worker) send(t FrameType, id uint32, payload []byte) error {
	return w.sendAfter(nil, t, id, payload)
}

// sendAfter writes prefix (whole encoded frames) and one frame in one write.
func (w *worker) sendAfter(prefix []byte, t FrameType, id uint32, payload []byte) error {
	w.wmu.Lock()
	w.wbuf = AppendFrame(append(w.wbuf[:0], prefix...), t, id, payload)
	_, err := w.conn.Write(w.wbuf)
	w.wmu.Unlock()
	if err != nil {
		return w.describeExit(err)
	}
	return nil
}

// read reads the next frame. The payload is valid until the next read.
func (w *worker) read() (Frame, error) {
	f, err := w.fr.ReadFrame()
	if err != nil {
		return f, w.describeExit(err)
	}
	return f, nil
}

// alive reports whether the process has not exited.
func (w *worker) alive() bool {
	select {
	case <-w.exited:
		return false
	default:
		return true
	}
}

// stop asks the worker to finish (SHUTDOWN), logs what its cleanups log
// (apache.register_cleanup, server.register_cleanup) for up to grace, waits
// up to grace for it to exit, then kills it. It returns when the process has
// been reaped. The worker must not be serving a request: stop reads its
// frames.
func (w *worker) stop(grace time.Duration) {
	w.stopOnce.Do(func() {
		w.conn.SetDeadline(time.Now().Add(grace))
		if err := w.send(FrameShutdown, 0, nil); err != nil {
			w.kill()
			return
		}
		w.drainLogs()
	})
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-w.exited:
	case <-t.C:
		w.log.Warn("worker did not stop in time; killing it", "grace", grace)
		w.kill()
		<-w.exited
	}
}

// kill ends the process at once (its whole process group: a handler may have
// started children).
func (w *worker) kill() {
	syscall.Kill(-w.pid, syscall.SIGKILL)
	w.cmd.Process.Kill()
}

// exitDescription says how the process ended, for logs.
func (w *worker) exitDescription() string {
	<-w.exited
	if w.waitErr == nil {
		return "exit 0"
	}
	return strings.TrimPrefix(w.waitErr.Error(), "exit status ")
}

// configCache mirrors the worker's cache of configurations (HELLO's
// config_cache: the worker keeps that many, least recently used evicted),
// so the daemon knows when it must send a configuration again.
type configCache struct {
	size  int
	clock uint64
	used  map[uint32]uint64 // id -> last use
}

// use records that a request uses id and reports whether the worker
// already holds it (else the daemon sends it with the request).
func (c *configCache) use(id uint32) (held bool) {
	c.clock++
	_, held = c.used[id]
	c.used[id] = c.clock
	if !held && len(c.used) > c.size {
		var oldest uint32
		first := true
		for k, t := range c.used {
			if first || t < c.used[oldest] {
				oldest, first = k, false
			}
		}
		delete(c.used, oldest)
	}
	return held
}

// forget drops id after a request failed before the worker stored it.
func (c *configCache) forget(id uint32) { delete(c.used, id) }
