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
func (Transport) Run(ctx context.Context, cmd transport.Command) (transport.Result, error) {
	if err := ctx.Err(); err != nil {
		return transport.Result{ExitCode: -1}, err
	}
	c := exec.Command("/bin/sh", "-c", transport.Script(cmd))
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Stdin = cmd.Stdin
	stdout := &transport.LimitedBuffer{Max: transport.MaxOutput}
	stderr := &transport.LimitedBuffer{Max: transport.MaxOutput}
	c.Stdout = tee(stdout, cmd.Stdout)
	c.Stderr = tee(stderr, cmd.Stderr)
	// WaitDelay stops Wait from hanging on pipes held open by an orphan that
	// escaped the process group (e.g. one that called setsid).
	c.WaitDelay = KillGrace
	if err := c.Start(); err != nil {
		return transport.Result{ExitCode: -1}, fmt.Errorf("starting /bin/sh: %w", err)
	}
	done := make(chan struct{})
	killed := make(chan struct{})
	go func() {
		select {
		case <-done:
		case <-ctx.Done():
			pgid := -c.Process.Pid
			_ = syscall.Kill(pgid, syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(KillGrace):
			}
			_ = syscall.Kill(pgid, syscall.SIGKILL)
			close(killed)
		}
	}()
	err := c.Wait()
	close(done)
	res := transport.Result{
		ExitCode:  c.ProcessState.ExitCode(),
		Stdout:    stdout.Bytes(),
		Stderr:    stderr.Bytes(),
		Truncated: stdout.Truncated || stderr.Truncated,
	}
	if ctx.Err() != nil {
		// Make sure the group is gone even if the shell exited on SIGTERM first.
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		return res, ctx.Err()
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return res, fmt.Errorf("running command: %w", err)
	}
	return res, nil
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
