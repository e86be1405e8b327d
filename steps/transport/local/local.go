// Package local is the transport for commands on this machine: the control node,
// and nodes whose inventory entry says `transport: local` (tests, sandboxes).
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/zdu-dev/zdu/steps/transport"
)

// KillGrace is how long a cancelled command's process group gets between
// SIGTERM and SIGKILL.
const KillGrace = 2 * time.Second

// Transport runs commands with /bin/sh on this machine.
type Transport struct{}

var _ transport.Transport = Transport{}

// New returns the local transport.
func New() Transport { return Transport{} }

// Run runs cmd in its own process group, so that a timeout kills the command
// and everything it started, not just the shell.
//
// Output is read to its end before Run returns: no deadline runs after the
// shell exits, so a loaded machine that is slow to copy output never turns a
// success into an error. The read ends early only when nothing can write any
// more of the command's output: its process group is empty and both pipes
// are empty, so what is left open belongs to a process that escaped the group
// (setsid). A process still in the group that keeps stdout open holds the
// step, as it would over SSH, until it ends or the step's timeout.
func (Transport) Run(ctx context.Context, cmd transport.Command) (transport.Result, error) {
	fail := transport.Result{ExitCode: -1}
	if err := ctx.Err(); err != nil {
		return fail, err
	}
	stdout := &transport.LimitedBuffer{Max: transport.MaxOutput}
	stderr := &transport.LimitedBuffer{Max: transport.MaxOutput}
	outR, outW, err := os.Pipe()
	if err != nil {
		return fail, fmt.Errorf("stdout pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return fail, fmt.Errorf("stderr pipe: %w", err)
	}
	c := exec.Command("/bin/sh", "-c", transport.Script(cmd))
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// *os.File ends: exec starts no copier of its own and Wait only reaps.
	c.Stdout, c.Stderr = outW, errW
	var stdinW *os.File
	if cmd.Stdin != nil {
		var stdinR *os.File
		if stdinR, stdinW, err = os.Pipe(); err != nil {
			outR.Close()
			outW.Close()
			errR.Close()
			errW.Close()
			return fail, fmt.Errorf("stdin pipe: %w", err)
		}
		c.Stdin = stdinR
		defer stdinR.Close()
	}
	err = c.Start()
	// The child has its copies; ours would keep the pipes open forever.
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		if stdinW != nil {
			stdinW.Close()
		}
		return fail, fmt.Errorf("starting /bin/sh: %w", err)
	}
	if stdinW != nil {
		// Not waited for: a reader that never ends must not hold Run.
		go func() {
			_, _ = io.Copy(stdinW, cmd.Stdin)
			stdinW.Close()
		}()
	}
	drained := make(chan struct{}, 2)
	copyOut := func(r *os.File, keep *transport.LimitedBuffer, to io.Writer) {
		_, _ = io.Copy(tee(keep, to), r)
		// A failed write (a full disk under the node log) ends the copy:
		// close the pipe so the command gets EPIPE rather than blocking
		// on a full pipe, as exec's own copier does.
		r.Close()
		drained <- struct{}{}
	}
	go copyOut(outR, stdout, cmd.Stdout)
	go copyOut(errR, stderr, cmd.Stderr)

	pgid := c.Process.Pid
	waited := make(chan error, 1)
	go func() { waited <- c.Wait() }()
	var werr error
	select {
	case werr = <-waited:
	case <-ctx.Done():
		werr = terminate(pgid, waited)
	}
	if stdinW != nil {
		stdinW.Close() // a copier blocked writing to a gone reader returns now
	}
	drain(ctx, pgid, drained, outR, errR)
	outR.Close()
	errR.Close()

	res := transport.Result{
		ExitCode:  c.ProcessState.ExitCode(),
		Stdout:    stdout.Bytes(),
		Stderr:    stderr.Bytes(),
		Truncated: stdout.Truncated || stderr.Truncated,
	}
	if ctx.Err() != nil {
		// Make sure the group is gone even if the shell exited on SIGTERM first.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		return res, ctx.Err()
	}
	var exitErr *exec.ExitError
	if werr != nil && !errors.As(werr, &exitErr) {
		return res, fmt.Errorf("running command: %w", werr)
	}
	return res, nil
}

// terminate ends a cancelled command's group: SIGTERM, KillGrace for the
// shell to go, then SIGKILL. It returns Wait's error.
func terminate(pgid int, waited <-chan error) error {
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case err := <-waited:
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		return err
	case <-time.After(KillGrace):
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	return <-waited
}

// drainPoll is how often drain looks whether anyone can still write.
const drainPoll = 20 * time.Millisecond

// drain waits until both copiers reached EOF, or until nothing of the
// command can write any more (group empty, pipes empty), then closes the
// read ends and waits for the copiers to finish what they hold. On a
// cancelled run a group that ignores SIGKILL cannot exist, so the same test
// ends the drain; KillGrace more bounds a stuck reader.
func drain(ctx context.Context, pgid int, drained <-chan struct{}, outR, errR *os.File) {
	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
	var giveUp <-chan time.Time
	for n := 0; n < 2; {
		select {
		case <-drained:
			n++
			continue
		case <-tick.C:
		case <-giveUp:
			outR.Close()
			errR.Close()
			for ; n < 2; n++ {
				<-drained
			}
			return
		}
		if giveUp == nil && ctx.Err() != nil {
			giveUp = time.After(KillGrace)
		}
		if groupGone(pgid) && pipeEmpty(outR) && pipeEmpty(errR) {
			// Everything the group wrote has been read; closing makes the
			// copiers' next Read fail after they hand on what they hold.
			outR.Close()
			errR.Close()
			for ; n < 2; n++ {
				<-drained
			}
			return
		}
	}
}

func groupGone(pgid int) bool {
	return errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH)
}

// pipeEmpty says whether no byte waits in the pipe (a closed pipe counts).
func pipeEmpty(f *os.File) bool {
	rc, err := f.SyscallConn()
	if err != nil {
		return true
	}
	n := 0
	ierr := rc.Control(func(fd uintptr) {
		n, err = unix.IoctlGetInt(int(fd), unix.TIOCINQ) // FIONREAD
	})
	return ierr != nil || err != nil || n == 0
}

// Dial connects from this machine.
func (Transport) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// Close does nothing: the local transport holds no connection.
func (Transport) Close() error { return nil }

func tee(keep io.Writer, stream io.Writer) io.Writer {
	if stream == nil {
		return keep
	}
	return io.MultiWriter(keep, stream)
}

// Hostname names this machine in messages.
func Hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "localhost"
	}
	return h
}
