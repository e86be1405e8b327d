package loopback

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Where the binaries are; the sandbox says how to install a missing one.
var (
	HAProxyPath = "/usr/sbin/haproxy"
	NginxPath   = "/usr/sbin/nginx"
)

// daemon is a load balancer run in the foreground, in a directory of its
// own.
type daemon struct {
	// Dir holds its config, sockets, logs and pid file.
	Dir    string
	p      *process
	ownDir bool
}

// useDir takes dir, or makes a temp dir (named after prefix) that Close
// removes.
func (d *daemon) useDir(dir, prefix string) error {
	d.Dir = dir
	if dir != "" {
		return nil
	}
	made, err := os.MkdirTemp("", prefix)
	if err != nil {
		return fmt.Errorf("%s temp dir: %w", strings.TrimSuffix(prefix, "-"), err)
	}
	d.Dir, d.ownDir = made, true
	return nil
}

// readyTimeout bounds a start, until the daemon answers: generous, as a
// loaded machine can take many seconds to start one (a daemon that exits
// is noticed at once).
const readyTimeout = time.Minute

// start starts path with args and waits until ready succeeds.
func (d *daemon) start(ctx context.Context, name, path string, args []string, ready func(context.Context) error) error {
	p, err := startProcess(name, path, args...)
	if err != nil {
		return err
	}
	d.p = p
	rctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	return p.waitReady(rctx, ready)
}

// Close stops the daemon and its workers, and removes its directory if it
// made it.
func (d *daemon) Close() error {
	if d.p != nil {
		_ = d.p.stop(syscall.SIGTERM)
	}
	if d.ownDir {
		return os.RemoveAll(d.Dir)
	}
	return nil
}

// fail closes the half-started daemon and returns err.
func (d *daemon) fail(err error) error {
	_ = d.Close()
	return err
}

// Pid is the daemon's process id (nginx: its master's).
func (d *daemon) Pid() int { return d.p.Pid() }

// Output is what the daemon printed.
func (d *daemon) Output() string { return d.p.Output() }

// answers checks that something accepts connections at url's host:port.
func answers(ctx context.Context, url string) error {
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		return err
	}
	return c.Close()
}

// process is a load balancer run in the foreground.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

func startProcess(name string, path string, args ...string) (*process, error) {
	p := &process{name: name, out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(path, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	// Its own process group, so a stop reaches its workers too.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// waitReady polls ready until it succeeds, the process exits or ctx ends.
func (p *process) waitReady(ctx context.Context, ready func(context.Context) error) error {
	var last error
	for {
		if last = ready(ctx); last == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited (%v) before it was ready: %s", p.name, p.err, p.Output())
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %v: %s", p.name, last, p.Output())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop sends sig to the process group, then SIGKILL if it lingers.
func (p *process) stop(sig syscall.Signal) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
	return nil
}

// Pid is the process id.
func (p *process) Pid() int { return p.cmd.Process.Pid }

// Output is what the process printed so far.
func (p *process) Output() string { return strings.TrimSpace(p.out.String()) }

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() < 1<<20 {
		s.b.Write(p)
	}
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
