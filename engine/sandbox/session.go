package sandbox

import (
	"context"
	"io"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// killGrace is how long a command's process group has between SIGTERM and
// SIGKILL once its channel is gone.
const killGrace = 2 * time.Second

// session is one "session" channel: env requests, then one exec.
type session struct {
	node *SSHNode
	ch   ssh.Channel
	env  map[string]string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when the command has been reaped
	// answer is a Policy's answer to the command, run instead of it;
	// cancel ends it.
	answer func(ctx context.Context, stdout, stderr io.Writer) int
	actx   context.Context
	cancel context.CancelFunc
}

func (s *session) serve(reqs <-chan *ssh.Request) {
	defer s.ch.Close()
	for r := range reqs {
		ok := false
		switch r.Type {
		case "env":
			var kv struct{ Name, Value string }
			if ssh.Unmarshal(r.Payload, &kv) == nil && kv.Name != "" {
				s.env[kv.Name] = kv.Value
				ok = true
			}
		case "exec":
			var p struct{ Command string }
			if ssh.Unmarshal(r.Payload, &p) == nil && s.started() == nil && s.answering() == nil && s.node.countCommand() {
				ok = s.judge(p.Command) == nil
			}
		case "signal":
			var p struct{ Signal string }
			if ssh.Unmarshal(r.Payload, &p) == nil {
				ok = s.signal(p.Signal)
			}
		}
		if r.WantReply {
			_ = r.Reply(ok, nil)
		}
		if r.Type == "exec" && ok {
			// Only once the exec reply is out: reap reports the exit and
			// closes the channel, and a reply after the close is dropped, so
			// the client's Start would fail with EOF although the command
			// ran. A fast command on a loaded machine wins that race.
			if s.answering() != nil {
				go s.reply()
			} else {
				go s.reap()
			}
		}
	}
	// The client closed the channel (or the connection died): whatever the
	// command left running goes with it, as the transport expects.
	s.killGroup()
}

// judge asks the node's policy about command: a stand-in answers it, it
// runs, or it is refused (an answer too: a message and RefusedExit).
func (s *session) judge(command string) error {
	p := s.node.cfg.Policy
	if p == nil {
		return s.start(command)
	}
	// The transport's kill of a command's group on a timeout: only of a
	// group this node started.
	if pgid := killTarget(command); pgid > 0 && s.node.started(pgid) {
		return s.start(command)
	}
	v := p.Judge(command)
	switch {
	case v.Answer != nil:
		s.setAnswer(v.Answer)
	case v.Run:
		return s.start(command)
	default:
		msg := v.Refused
		s.setAnswer(func(context.Context, io.Writer, io.Writer) int {
			_, _ = io.WriteString(s.ch.Stderr(), "sandbox: "+msg+"\n")
			return RefusedExit
		})
	}
	return nil
}

func (s *session) setAnswer(a func(ctx context.Context, stdout, stderr io.Writer) int) {
	ctx, cancel := context.WithCancel(context.Background())
	s.mu.Lock()
	s.answer, s.actx, s.cancel, s.done = a, ctx, cancel, make(chan struct{})
	s.mu.Unlock()
	go func() { _, _ = io.Copy(io.Discard, s.ch) }() // stdin, unread
}

func (s *session) answering() func(ctx context.Context, stdout, stderr io.Writer) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.answer
}

// reply runs the policy's answer and reports its exit code.
func (s *session) reply() {
	s.mu.Lock()
	a, ctx, cancel, done := s.answer, s.actx, s.cancel, s.done
	s.mu.Unlock()
	code := a(ctx, s.ch, s.ch.Stderr())
	cancel()
	close(done)
	_, _ = s.ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(code)}))
	_ = s.ch.CloseWrite()
	s.ch.Close()
}

func (s *session) started() *exec.Cmd {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd
}

// start runs command through /bin/sh -c in a session and process group of
// its own (as sshd does), wired to the channel. The caller starts reap once
// it has answered the exec request.
func (s *session) start(command string) error {
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Dir = s.node.cfg.Root
	cmd.Env = mergeEnv(s.node.env, s.env)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: s.node.cfg.Credential}
	cmd.Stdout = s.ch
	cmd.Stderr = s.ch.Stderr()
	// A daemon that kept our stdout open must not hold the session forever
	// once the command itself has exited.
	cmd.WaitDelay = 500 * time.Millisecond
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		_, _ = io.WriteString(s.ch.Stderr(), "sandbox: "+err.Error()+"\n")
		return err
	}
	done := make(chan struct{})
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	s.node.track(cmd.Process.Pid, true)
	go func() {
		// Not waited for: a client that never sends EOF must not hold the
		// session after the command ended.
		_, _ = io.Copy(stdin, s.ch)
		stdin.Close()
	}()
	return nil
}

// reap waits for the started command, then reports how it ended.
func (s *session) reap() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	err := cmd.Wait()
	s.node.track(cmd.Process.Pid, false)
	close(done)
	s.exit(cmd, err)
}

// exit reports how the command ended and closes the channel.
func (s *session) exit(cmd *exec.Cmd, err error) {
	status := 0
	if cmd.ProcessState != nil {
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			name := strings.TrimPrefix(unixSignalName(ws.Signal()), "SIG")
			payload := ssh.Marshal(struct {
				Signal     string
				CoreDumped bool
				Message    string
				Lang       string
			}{Signal: name})
			_, _ = s.ch.SendRequest("exit-signal", false, payload)
			_ = s.ch.CloseWrite()
			s.ch.Close()
			return
		}
		status = cmd.ProcessState.ExitCode()
	} else if err != nil {
		status = 255
	}
	_, _ = s.ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(status)}))
	_ = s.ch.CloseWrite()
	s.ch.Close()
}

func (s *session) signal(name string) bool {
	sig, ok := signalsByName[name]
	s.mu.Lock()
	cancel := s.cancel
	s.mu.Unlock()
	if ok && cancel != nil {
		cancel()
		return true
	}
	cmd := s.started()
	if !ok || cmd == nil {
		return false
	}
	return syscall.Kill(-cmd.Process.Pid, sig) == nil
}

// killGroup ends the command's process group: SIGTERM, then SIGKILL after
// killGrace, and waits until the command has been reaped.
func (s *session) killGroup() {
	s.mu.Lock()
	cmd, done, cancel := s.cmd, s.done, s.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
		return
	}
	if cmd == nil {
		return
	}
	pgid := -cmd.Process.Pid
	select {
	case <-done:
		// The leader is gone; children it left in its group still go.
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		return
	default:
	}
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(killGrace):
	}
	_ = syscall.Kill(pgid, syscall.SIGKILL)
	<-done
}

var signalsByName = map[string]syscall.Signal{
	"ABRT": syscall.SIGABRT, "ALRM": syscall.SIGALRM, "FPE": syscall.SIGFPE, "HUP": syscall.SIGHUP,
	"ILL": syscall.SIGILL, "INT": syscall.SIGINT, "KILL": syscall.SIGKILL, "PIPE": syscall.SIGPIPE,
	"QUIT": syscall.SIGQUIT, "SEGV": syscall.SIGSEGV, "TERM": syscall.SIGTERM, "USR1": syscall.SIGUSR1,
	"USR2": syscall.SIGUSR2,
}

func unixSignalName(sig syscall.Signal) string {
	for n, s := range signalsByName {
		if s == sig {
			return n
		}
	}
	return "KILL"
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func stringsCut(s, sep string) (string, string, bool) { return strings.Cut(s, sep) }
