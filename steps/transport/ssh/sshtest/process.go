package sshtest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// startTimeout bounds how long sshd may take to answer its first banner.
const startTimeout = 10 * time.Second

// start runs sshd -D -e -f conf and waits for its banner.
func (s *Server) start() error {
	// A file, not a pipe: connection processes inherit stderr and outlive
	// a stopped listener, and Wait would wait for them to close a pipe.
	logf, err := os.OpenFile(s.logPath(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("opening sshd log: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(SSHD, "-D", "-e", "-f", s.conf)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", SSHD, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-exited:
			return fmt.Errorf("sshd on port %d exited at start", s.Port)
		default:
		}
		if bannerOK(s.Addr()) {
			return nil
		}
		if time.Now().After(deadline) {
			s.Kill()
			return fmt.Errorf("sshd on port %d gave no banner within %v", s.Port, startTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func bannerOK(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "SSH-2.0-")
}

// Running reports whether the listening sshd is alive.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.exited == nil {
		return false
	}
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// Stop ends the listening sshd with SIGTERM, as `systemctl stop ssh` does:
// new connections are refused, established ones (and their commands) live on.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	<-exited
}

// Kill is a crash of the node's SSH side: SIGKILL to the listening sshd and
// to every process below it (per-connection sshd, shells, commands), so
// established connections drop at once.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	// Stop the tree first so nothing forks while it is being killed.
	for round := 0; round < 3; round++ {
		pids := Descendants(cmd.Process.Pid)
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGSTOP)
		}
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
	}
	_ = cmd.Process.Kill()
	<-exited
}

// Freeze stops (SIGSTOP) sshd and its connection processes: the TCP
// connections stay open but nothing answers, like a hung or partitioned peer.
func (s *Server) Freeze() { s.signalTree(syscall.SIGSTOP) }

// Thaw undoes Freeze.
func (s *Server) Thaw() { s.signalTree(syscall.SIGCONT) }

func (s *Server) signalTree(sig syscall.Signal) {
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	for _, p := range Descendants(cmd.Process.Pid) {
		_ = syscall.Kill(p, sig)
	}
}

// Restart starts sshd again on the same port with the same keys, after Stop
// or Kill. It fails the test when sshd does not come back.
func (s *Server) Restart() {
	s.tb.Helper()
	if s.Running() {
		s.Kill()
	}
	var err error
	// The old listener's port can linger briefly; retry while it does.
	for attempt := 0; attempt < 50; attempt++ {
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.tb.Fatalf("sshtest: restarting sshd on port %d: %v\n%s", s.Port, err, s.Log())
}

// Pid is the listening sshd's process id (0 when never started).
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Descendants lists every live process below pid, by walking /proc (Linux).
func Descendants(pid int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp, err := parentOf(p); err == nil {
			children[pp] = append(children[pp], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, c := range children[cur] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

func parentOf(pid int) (int, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	// The command name is in parentheses and may hold spaces: skip past it.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, errors.New("malformed stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, errors.New("malformed stat")
	}
	return strconv.Atoi(f[1])
}
