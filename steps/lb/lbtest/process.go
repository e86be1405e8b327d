package lbtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// T is what the Must helpers need from a test (*testing.T satisfies it); it
// keeps package testing out of binaries that use the Start functions.
type T interface {
	Helper()
	Cleanup(func())
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
}

// Binaries the harness starts.
var (
	HAProxyPath = "/usr/sbin/haproxy"
	NginxPath   = "/usr/sbin/nginx"
)

// Need skips the test when a binary is missing.
func Need(t T, path, pkg string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s is not installed (apt-get install %s): %v", path, pkg, err)
	}
}

// process is a load balancer run in the foreground by the harness.
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

// Pid is the process id of the load balancer (HAProxy, nginx master).
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
