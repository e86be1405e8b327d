package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/steps/steptest"
	"github.com/zdu-dev/zdu/steps/transport"
	zssh "github.com/zdu-dev/zdu/steps/transport/ssh"
	"github.com/zdu-dev/zdu/steps/transport/ssh/sshtest"
)

// testNode starts a node server with a fresh client key and returns the
// server and an SSH transport config that trusts it.
func testNode(t *testing.T) (*SSHNode, zssh.Config, *sshtest.Key) {
	t.Helper()
	dir := t.TempDir()
	key, err := sshtest.GenerateKey(dir, "id_client", sshtest.ED25519, "")
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "node root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	n, err := StartSSH(context.Background(), NodeConfig{
		Name: "node-a", Root: root, AuthorizedKey: key.Public, User: currentUser(t),
		Env: map[string]string{"ZDU_EXTRA": "extra value"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	kh := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(kh, []byte(n.KnownHostsLine()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := zssh.Config{Name: "node-a", Host: "127.0.0.1", Port: n.Port, User: currentUser(t),
		IdentityFiles: []string{key.Path}, KnownHostsFiles: []string{kh}, SSHConfigFile: "none",
		// Keepalives often, so the server answers many; but 10s to answer
		// one, so a loaded machine does not make a live node look dead.
		ConnectTimeout: 10 * time.Second, KeepAlive: 50 * time.Millisecond, KeepAliveMax: 200,
		KillGrace: 200 * time.Millisecond}
	return n, cfg, key
}

func currentUser(t *testing.T) string {
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}

func dialNode(t *testing.T, cfg zssh.Config) *zssh.Transport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tr, err := zssh.Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("dialing the sandbox node: %v", err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

func TestSSHNodeRunsCommands(t *testing.T) {
	n, cfg, _ := testNode(t)
	tr := dialNode(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name       string
		cmd        transport.Command
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"echo", transport.Command{Script: "echo hi"}, 0, "hi\n", ""},
		{"node env", transport.Command{Script: `printf '%s|%s|%s|%s' "$ZDU_NODE" "$ZDU_ROOT" "$HOME" "$ZDU_EXTRA"`}, 0,
			"node-a|" + n.Root() + "|" + n.Root() + "|extra value", ""},
		{"starts in root", transport.Command{Script: "pwd"}, 0, n.Root() + "\n", ""},
		{"command env and dir", transport.Command{Script: `echo "$X" && pwd`, Env: map[string]string{"X": "it's x"}, Dir: "/"}, 0, "it's x\n/\n", ""},
		{"exit code", transport.Command{Script: "echo out; echo err >&2; exit 7"}, 7, "out\n", "err\n"},
		{"stdin", transport.Command{Script: "tr a-z A-Z", Stdin: strings.NewReader("hello\n")}, 0, "HELLO\n", ""},
		{"killed by signal", transport.Command{Script: "kill -TERM $$"}, 128 + int(syscall.SIGTERM), "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := tr.Run(ctx, tc.cmd)
			if err != nil {
				t.Fatal(err)
			}
			if res.ExitCode != tc.wantCode || string(res.Stdout) != tc.wantStdout || string(res.Stderr) != tc.wantStderr {
				t.Errorf("got exit %d stdout %q stderr %q; want %d %q %q", res.ExitCode, res.Stdout, res.Stderr,
					tc.wantCode, tc.wantStdout, tc.wantStderr)
			}
		})
	}
}

func TestSSHNodeKillsTimedOutCommand(t *testing.T) {
	n, cfg, _ := testNode(t)
	tr := dialNode(t, cfg)
	pidFile := filepath.Join(n.Root(), "child.pid")
	// The deadline passes once the child runs, not after a fixed time.
	ctx, stop := steptest.DeadlineWhen(func() bool { _, err := os.Stat(pidFile); return err == nil }, 30*time.Second)
	defer stop()
	// The child is a grandchild of the shell: only a process-group kill ends it.
	_, err := tr.Run(ctx, transport.Command{Script: `sleep 60 & echo $! > child.pid.tmp; mv child.pid.tmp child.pid; wait`})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run = %v, want deadline exceeded", err)
	}
	waitGone(t, pidFile)
}

func TestSSHNodeKillsCommandWhenChannelCloses(t *testing.T) {
	n, cfg, _ := testNode(t)
	pidFile := filepath.Join(n.Root(), "child.pid")
	tr := dialNode(t, cfg)
	started := make(chan struct{})
	go func() {
		ctx := context.Background()
		_, _ = tr.Run(ctx, transport.Command{Script: `sleep 60 & echo $! > child.pid.tmp; mv child.pid.tmp child.pid; wait`})
		close(started)
	}()
	waitFor(t, func() bool { _, err := os.Stat(pidFile); return err == nil })
	_ = tr.Close() // the connection goes, and the channel with it
	<-started
	waitGone(t, pidFile)
}

func TestSSHNodeDials(t *testing.T) {
	n, cfg, _ := testNode(t)
	tr := dialNode(t, cfg)
	sock := filepath.Join(n.Root(), "echo.sock")
	ul, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ul.Close() })
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tl.Close() })
	for _, l := range []net.Listener{ul, tl} {
		go serveUpper(l)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, tc := range []struct{ network, addr string }{{"unix", sock}, {"tcp", tl.Addr().String()}} {
		c, err := tr.Dial(ctx, tc.network, tc.addr)
		if err != nil {
			t.Fatalf("dial %s %s: %v", tc.network, tc.addr, err)
		}
		if _, err := c.Write([]byte("ping\n")); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if err != nil || line != "PING\n" {
			t.Errorf("%s: got %q, %v; want PING", tc.network, line, err)
		}
	}
	if c, err := tr.Dial(ctx, "tcp", "192.0.2.1:80"); err == nil {
		c.Close()
		t.Error("dial to a non-loopback address was allowed")
	}
}

// serveUpper answers each line upper-cased.
func serveUpper(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			s := bufio.NewScanner(c)
			for s.Scan() {
				_, _ = c.Write([]byte(strings.ToUpper(s.Text()) + "\n"))
			}
		}()
	}
}

func TestSSHNodeRefusesOthers(t *testing.T) {
	_, cfg, _ := testNode(t)
	other, err := sshtest.GenerateKey(t.TempDir(), "other", sshtest.ED25519, "")
	if err != nil {
		t.Fatal(err)
	}
	wrongKey := cfg
	wrongKey.IdentityFiles = []string{other.Path}
	wrongUser := cfg
	wrongUser.User = "nobody-" + strconv.Itoa(os.Getpid())
	unknownHost := cfg
	unknownHost.KnownHostsFiles = []string{filepath.Join(t.TempDir(), "empty_known_hosts")}
	_ = os.WriteFile(unknownHost.KnownHostsFiles[0], nil, 0o600)
	for name, c := range map[string]zssh.Config{"wrong key": wrongKey, "wrong user": wrongUser, "unknown host key": unknownHost} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			tr, err := zssh.Dial(ctx, c)
			if err == nil {
				tr.Close()
				t.Fatal("dial succeeded")
			}
		})
	}
}

func TestSSHNodeWithOpenSSHClient(t *testing.T) {
	sshBin, err := exec.LookPath("ssh")
	if err != nil {
		t.Skip("OpenSSH client not installed (apt-get install openssh-client)")
	}
	n, cfg, key := testNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, sshBin, "-F", "none", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
		"-o", "UserKnownHostsFile="+cfg.KnownHostsFiles[0], "-o", "GlobalKnownHostsFile=/dev/null",
		"-i", key.Path, "-p", strconv.Itoa(n.Port), "-l", cfg.User, "127.0.0.1",
		`echo hi; echo "$ZDU_NODE"; exit 3`)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("ssh exit = %v, want 3; stderr: %s", err, stderr.String())
	}
	if got := stdout.String(); got != "hi\nnode-a\n" {
		t.Errorf("stdout = %q, want hi and the node name", got)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition never held")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitGone waits until the process whose pid pidFile holds has gone.
func waitGone(t *testing.T, pidFile string) {
	t.Helper()
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		// A zombie counts as gone: its parent (our shell) is gone too, or
		// init reaps it soon.
		st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		return err != nil || strings.Contains(string(st), ") Z ")
	})
}
