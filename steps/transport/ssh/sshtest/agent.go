package sshtest

import (
	"crypto"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/ssh/agent"
)

// StartAgent serves an in-process ssh-agent holding keys on a temporary unix
// socket and returns the socket path (what SSH_AUTH_SOCK would hold).
func StartAgent(tb testing.TB, keys ...crypto.PrivateKey) string {
	tb.Helper()
	dir, err := os.MkdirTemp("", "sshtest-agent-")
	if err != nil {
		tb.Fatalf("sshtest: agent dir: %v", err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	keyring := agent.NewKeyring()
	for _, k := range keys {
		if err := keyring.Add(agent.AddedKey{PrivateKey: k, Comment: "sshtest"}); err != nil {
			tb.Fatalf("sshtest: adding key to agent: %v", err)
		}
	}
	sock := filepath.Join(dir, "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		tb.Fatalf("sshtest: agent socket %s: %v", sock, err)
	}
	tb.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				continue
			}
			go func() {
				defer c.Close()
				_ = agent.ServeAgent(keyring, c)
			}()
		}
	}()
	return sock
}

// EnsureUser makes sure a local account name exists with a usable shell and
// an unlocked (but password-less) entry, creating it with useradd. It skips
// the test when the account is missing and the test does not run as root.
func EnsureUser(tb testing.TB, name string) {
	tb.Helper()
	if _, err := exec.Command("id", "-u", name).Output(); err == nil {
		return
	}
	if os.Geteuid() != 0 {
		tb.Skipf("sshtest: user %s is missing and only root can create it (useradd -m -s /bin/sh -p '*' %s)", name, name)
	}
	// "*" rather than useradd's default "!": sshd without PAM refuses
	// accounts whose password field marks them locked.
	// Test binaries of several packages may race to create the account.
	var out []byte
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		out, err = exec.Command("useradd", "-m", "-s", "/bin/sh", "-p", "*", name).CombinedOutput()
		if _, idErr := exec.Command("id", "-u", name).Output(); idErr == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	tb.Fatalf("sshtest: useradd %s: %v: %s", name, err, out)
}
