package ssh

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/steps/transport"
	"github.com/zdu-dev/zdu/steps/transport/ssh/sshtest"
)

// sshd dies while a step runs: Run fails with ErrConnectionLost naming the
// node (not a hang, not a timeout); once sshd is back on the same port, the
// next command reconnects by itself.
func TestServerKilledMidStepThenReconnect(t *testing.T) {
	srv := sshtest.Start(t)
	cfg := nodeConfig(srv)
	tr := dialT(t, cfg)
	runT(t, tr, "true")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	errc := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		_, err := tr.Run(ctx, transport.Command{Script: "echo started; sleep 60", Stdout: signalWriter(started)})
		errc <- err
	}()
	<-started
	srv.Kill()
	err := <-errc
	if !errors.Is(err, ErrConnectionLost) || !strings.Contains(err.Error(), "node (") {
		t.Fatalf("Run error %v, want ErrConnectionLost naming the node", err)
	}
	if ctx.Err() != nil {
		t.Fatal("Run only returned when its own deadline passed")
	}

	// While sshd is down the node is unreachable, not "lost".
	_, err = tr.Run(ctx, transport.Command{Script: "true"})
	if !errors.Is(err, transport.ErrUnreachable) {
		t.Fatalf("Run with sshd down: %v, want ErrUnreachable", err)
	}
	srv.Restart()
	if res := runT(t, tr, "echo back"); string(res.Stdout) != "back\n" {
		t.Fatalf("after restart: %q", res.Stdout)
	}
}

// A connection that died between commands is replaced transparently.
func TestReconnectBetweenCommands(t *testing.T) {
	srv := sshtest.Start(t)
	tr := dialT(t, nodeConfig(srv))
	runT(t, tr, "true")
	srv.Kill()
	srv.Restart()
	runT(t, tr, "true")
	if n := acceptedLogins(srv); n != 2 {
		t.Fatalf("%d logins, want 2 (initial + one reconnection)", n)
	}
}

// Stopping the listener (systemctl stop ssh) leaves the established
// connection working: proof that commands reuse it rather than redial.
func TestConnectionReusedAfterListenerStops(t *testing.T) {
	srv := sshtest.Start(t)
	tr := dialT(t, nodeConfig(srv))
	srv.Stop()
	for i := 0; i < 3; i++ {
		runT(t, tr, "true")
	}
}

// A frozen peer (TCP open, nothing answering) is detected by keepalives and
// the reconnection attempt gives up after ConnectTimeout instead of hanging.
// Keepalives go every 100ms but a peer has 3s to answer one: a live sshd on
// a loaded machine is not declared dead.
func TestKeepAliveDetectsDeadPeer(t *testing.T) {
	srv := sshtest.Start(t)
	cfg := nodeConfig(srv)
	cfg.KeepAlive = 100 * time.Millisecond
	cfg.KeepAliveMax = 30
	cfg.ConnectTimeout = time.Second
	tr := dialT(t, cfg)
	runT(t, tr, "true")
	srv.Freeze()
	t.Cleanup(srv.Thaw)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := tr.Run(ctx, transport.Command{Script: "true"})
	if err == nil || ctx.Err() != nil {
		t.Fatalf("Run against a frozen peer: %v (ctx %v)", err, ctx.Err())
	}
	if !errors.Is(err, ErrConnectionLost) && !errors.Is(err, transport.ErrUnreachable) {
		t.Fatalf("Run error %v, want lost or unreachable", err)
	}
}

// A server that accepts TCP and never speaks SSH: x/crypto's Timeout does
// not cover this, ConnectTimeout must.
func TestHandshakeTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold it open, say nothing
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	key, err := sshtest.GenerateKey(t.TempDir(), "id", sshtest.ED25519, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = Dial(ctx, Config{Name: "silent", Host: "127.0.0.1", Port: port, SSHConfigFile: "none",
		KnownHostsFiles: []string{"/dev/null"}, IdentityFiles: []string{key.Path},
		ConnectTimeout: 300 * time.Millisecond})
	if !errors.Is(err, transport.ErrUnreachable) || !errors.Is(err, context.DeadlineExceeded) ||
		!strings.Contains(err.Error(), "ConnectTimeout") || ctx.Err() != nil {
		t.Fatalf("Dial to a silent server: %v", err)
	}
}

func TestDialThroughNode(t *testing.T) {
	srv := sshtest.Start(t)
	tr := dialT(t, nodeConfig(srv))

	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	// The node's user (not root) must be able to reach the socket.
	dir, err := os.MkdirTemp("", "ssh-dial-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	sock := filepath.Join(dir, "echo.sock")
	unix, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close()
	os.Chmod(sock, 0o777)
	for _, l := range []net.Listener{tcp, unix} {
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					buf := make([]byte, 64)
					n, _ := c.Read(buf)
					c.Write([]byte("echo:" + string(buf[:n])))
				}()
			}
		}()
	}
	for _, tc := range []struct{ network, addr string }{{"tcp", tcp.Addr().String()}, {"unix", sock}} {
		t.Run(tc.network, func(t *testing.T) {
			c, err := tr.Dial(context.Background(), tc.network, tc.addr)
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer c.Close()
			c.Write([]byte("ping"))
			buf := make([]byte, 64)
			n, _ := c.Read(buf)
			if string(buf[:n]) != "echo:ping" {
				t.Fatalf("got %q", buf[:n])
			}
		})
	}
	if _, err := tr.Dial(context.Background(), "unix", "/nonexistent.sock"); err == nil ||
		!strings.Contains(err.Error(), "/nonexistent.sock") {
		t.Fatalf("Dial to a missing socket: %v", err)
	}
}

// signalWriter closes ch on the first write.
func signalWriter(ch chan struct{}) *onceWriter { return &onceWriter{ch: ch} }

type onceWriter struct {
	ch   chan struct{}
	done bool
}

func (w *onceWriter) Write(p []byte) (int, error) {
	if !w.done {
		w.done = true
		close(w.ch)
	}
	return len(p), nil
}

// With the defaults, a peer that freezes while a command runs (sshd and its
// session SIGSTOPped: TCP open, nothing answering) fails the command within
// DefaultKeepAlive × DefaultKeepAliveMax, naming the node and the values
// used. Nothing is timed: the run's own deadline is only a hang guard, far
// above the 15s.
func TestKeepAliveDefaultsFailFrozenPeerMidCommand(t *testing.T) {
	if DefaultKeepAlive*time.Duration(DefaultKeepAliveMax) > 15*time.Second {
		t.Fatalf("default dead-peer detection %v x %d is over 15s", DefaultKeepAlive, DefaultKeepAliveMax)
	}
	srv := sshtest.Start(t)
	tr := dialT(t, nodeConfig(srv)) // KeepAlive and KeepAliveMax left to the defaults
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	started := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		_, err := tr.Run(ctx, transport.Command{Script: "echo started; sleep 600", Stdout: signalWriter(started)})
		errc <- err
	}()
	<-started
	srv.Freeze()
	t.Cleanup(srv.Thaw)
	err := <-errc
	if ctx.Err() != nil {
		t.Fatalf("Run ended only on the hang guard: %v", err)
	}
	want := "did not answer keepalives for " + (DefaultKeepAlive * time.Duration(DefaultKeepAliveMax)).String()
	if !errors.Is(err, ErrConnectionLost) || !strings.Contains(err.Error(), "node (") || !strings.Contains(err.Error(), want) {
		t.Fatalf("Run error %v, want ErrConnectionLost naming the node and %q", err, want)
	}
}
