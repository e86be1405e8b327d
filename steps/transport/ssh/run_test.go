package ssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/steps/steptest"
	"github.com/zdu-dev/zdu/steps/transport"
	"github.com/zdu-dev/zdu/steps/transport/ssh/sshtest"
)

func TestRunCommands(t *testing.T) {
	srv := sshtest.Start(t)
	tr := dialT(t, nodeConfig(srv))
	big := strings.Repeat("x", transport.MaxOutput+10)
	tests := []struct {
		name      string
		cmd       transport.Command
		code      int
		stdout    string
		stderr    string
		truncated bool
		anyStderr bool
	}{
		{name: "exit code", cmd: transport.Command{Script: "exit 7"}, code: 7},
		{name: "stdout and stderr", cmd: transport.Command{Script: "echo out; echo err >&2"}, stdout: "out\n", stderr: "err\n"},
		{name: "env", cmd: transport.Command{Script: `printf %s "$GREETING"`, Env: map[string]string{"GREETING": "it's a test"}}, stdout: "it's a test"},
		{name: "dir with spaces", cmd: transport.Command{Script: "pwd", Dir: srv.Dir}, stdout: srv.Dir + "\n"},
		{name: "stdin", cmd: transport.Command{Script: "tr a-z A-Z", Stdin: strings.NewReader("hello")}, stdout: "HELLO"},
		{name: "no stdin reads EOF", cmd: transport.Command{Script: "cat; echo done"}, stdout: "done\n"},
		// The wrapper shell may report "Terminated": stderr is not compared.
		{name: "killed by signal", cmd: transport.Command{Script: "kill -TERM $$"}, code: 128 + 15, anyStderr: true},
		{name: "wrapper's variables unseen", cmd: transport.Command{Script: `echo "${zdu_s-unset} ${zdu_p-unset} $#"`}, stdout: "unset unset 0\n"},
		{name: "syntax error exits 2", cmd: transport.Command{Script: "if then fi"}, code: 2, anyStderr: true},
		{name: "quoting survives", cmd: transport.Command{Script: `echo "a'b" '$HOME' "$1"`}, stdout: "a'b $HOME \n"},
		{name: "truncated", cmd: transport.Command{Script: fmt.Sprintf("head -c %d /dev/zero | tr '\\0' x", len(big))}, stdout: big[:transport.MaxOutput], truncated: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var log bytes.Buffer
			tc.cmd.Stdout, tc.cmd.Stderr = &log, &log
			res, err := tr.Run(context.Background(), tc.cmd)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.ExitCode != tc.code {
				t.Errorf("exit code %d, want %d (stderr %q)", res.ExitCode, tc.code, res.Stderr)
			}
			if string(res.Stdout) != tc.stdout {
				t.Errorf("stdout %.80q, want %.80q", res.Stdout, tc.stdout)
			}
			if tc.anyStderr {
				tc.stderr = string(res.Stderr)
			}
			if string(res.Stderr) != tc.stderr {
				t.Errorf("stderr %q, want %q", res.Stderr, tc.stderr)
			}
			if res.Truncated != tc.truncated {
				t.Errorf("truncated %v, want %v", res.Truncated, tc.truncated)
			}
			if !tc.truncated && log.Len() != len(tc.stdout)+len(tc.stderr) {
				t.Errorf("streamed %d bytes, want %d", log.Len(), len(tc.stdout)+len(tc.stderr))
			}
			if tc.truncated && log.Len() != len(big) {
				t.Errorf("streamed %d bytes, want all %d", log.Len(), len(big))
			}
		})
	}
	if n := acceptedLogins(srv); n != 1 {
		t.Errorf("%d logins for %d commands, want 1 reused connection", n, len(tests))
	}
}

// Concurrent commands share one connection, never more sessions at once than
// the server allows; refusals (here MaxSessions 2) are retried.
func TestRunConcurrentSessions(t *testing.T) {
	for _, max := range []int{10, 2} {
		t.Run(fmt.Sprintf("MaxSessions %d", max), func(t *testing.T) {
			srv := sshtest.Start(t, sshtest.WithConfig(fmt.Sprintf("MaxSessions %d", max)))
			tr := dialT(t, nodeConfig(srv))
			var wg sync.WaitGroup
			errs := make([]error, 12)
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res, err := tr.Run(context.Background(), transport.Command{Script: fmt.Sprintf("sleep 0.2; echo %d", i)})
					if err == nil && strings.TrimSpace(string(res.Stdout)) != fmt.Sprint(i) {
						err = fmt.Errorf("stdout %q", res.Stdout)
					}
					errs[i] = err
				}()
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			if n := acceptedLogins(srv); n != 1 {
				t.Errorf("%d logins, want 1", n)
			}
		})
	}
}

// A hanging command and the children it started are gone from the node when
// Run returns on timeout, for root and for an ordinary user.
func TestRunTimeoutKillsProcessGroup(t *testing.T) {
	// Root matters: OpenSSH refuses signal requests on root sessions, so the
	// kill has to come from the node side.
	for _, u := range []string{"", "root"} {
		name := "default user"
		if u != "" {
			name = u
		}
		t.Run(name, func(t *testing.T) {
			var opts []sshtest.Option
			if u == "root" {
				if os.Geteuid() != 0 {
					t.Skip("logging in as root needs the tests to run as root (as in CI)")
				}
				opts = append(opts, sshtest.WithUser("root"))
			}
			srv := sshtest.Start(t, opts...)
			for _, later := range []bool{false, true} {
				killOnTimeout(t, dialT(t, nodeConfig(srv)), later)
			}
		})
	}
}

// killOnTimeout runs a command that hangs until its deadline, as the
// connection's first command or (later) after another one, whose wrapper
// then skips the group check, and checks nothing of it is left.
func killOnTimeout(t *testing.T, tr *Transport, later bool) {
	t.Helper()
	if later {
		if res := runT(t, tr, "true"); res.ExitCode != 0 {
			t.Fatalf("first command: exit %d", res.ExitCode)
		}
		if c, err := tr.conn(context.Background()); err != nil || !c.leads.Load() {
			t.Fatalf("after a first command under OpenSSH the connection should skip the group check (%v)", err)
		}
	}
	marker := fmt.Sprintf("%d", 40000+time.Now().UnixNano()%10000)
	// A child, a grandchild in the background, and one that ignores
	// SIGTERM: only the KILL after the grace ends that one. The
	// deadline passes once that one has set its trap (not after a
	// fixed time the machine might need just to start them).
	script := fmt.Sprintf(`sleep %[1]s & sh -c 'trap "" TERM; echo trapped; sleep %[1]s.5' & sleep %[1]s.25; wait`, marker)
	var out syncBuffer
	ctx, stop := steptest.DeadlineWhen(func() bool { return strings.Contains(out.String(), "trapped") }, 30*time.Second)
	defer stop()
	res, err := tr.Run(ctx, transport.Command{Script: script, Stdout: &out})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run error %v (result %+v), want deadline exceeded", err, res)
	}
	if left := waitGone(t, "sleep "+marker); len(left) > 0 {
		t.Fatalf("processes left on the node after timeout:\n%s", strings.Join(left, "\n"))
	}
	// The connection is still good for the next step.
	if res := runT(t, tr, "echo next"); string(res.Stdout) != "next\n" {
		t.Fatalf("next command: %q", res.Stdout)
	}
}

// syncBuffer is a bytes.Buffer that a command writes while a test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestRunAfterContextDone(t *testing.T) {
	srv := sshtest.Start(t, sshtest.WithHostKeyTypes(sshtest.ED25519))
	tr := dialT(t, nodeConfig(srv))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tr.Run(ctx, transport.Command{Script: "true"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run on a cancelled context: %v", err)
	}
	tr.Close()
	if _, err := tr.Run(context.Background(), transport.Command{Script: "true"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Run after Close: %v", err)
	}
}

func TestPgidFilter(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		pgid   int
		out    string
		leads  bool
	}{
		{"marker first", []string{"zdu-pgid:tok:1234\nerr\n"}, 1234, "err\n", false},
		{"no new group needed", []string{"zdu-pgid:tok:1234:L\nerr\n"}, 1234, "err\n", true},
		{"unknown flag", []string{"zdu-pgid:tok:1234:X\n"}, 1234, "", false},
		{"split writes", []string{"zdu-pg", "id:tok:77", "\nrest"}, 77, "rest", false},
		{"noise before", []string{"bashrc says hi\nzdu-pgid:tok:9\nx"}, 9, "bashrc says hi\nx", false},
		{"other token is noise", []string{"zdu-pgid:evil:5\nzdu-pgid:tok:6\n"}, 6, "zdu-pgid:evil:5\n", false},
		{"group 1 refused", []string{"zdu-pgid:tok:1\nafter\n"}, 0, "after\n", false},
		{"no marker", []string{"plain", " text"}, 0, "plain text", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			f := newPgidFilter("tok", &out)
			for _, w := range tc.writes {
				f.Write([]byte(w))
			}
			f.flush()
			got := 0
			select {
			case got = <-f.found:
			default:
			}
			if got != tc.pgid || out.String() != tc.out || f.leads != tc.leads {
				t.Fatalf("pgid %d out %q leads %v, want %d %q %v", got, out.String(), f.leads, tc.pgid, tc.out, tc.leads)
			}
		})
	}
}
