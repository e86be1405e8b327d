package sshtest

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func dialServer(t *testing.T, s *Server, signer ssh.Signer) (*ssh.Client, error) {
	t.Helper()
	cb, err := knownhosts.New(s.KnownHostsFile())
	if err != nil {
		t.Fatal(err)
	}
	return ssh.Dial("tcp", s.Addr(), &ssh.ClientConfig{
		User:              s.User,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback:   cb,
		HostKeyAlgorithms: []string{s.HostKey().Type()},
		Timeout:           5 * time.Second,
	})
}

func TestServerLifecycle(t *testing.T) {
	s := Start(t)
	if s.Host != "127.0.0.1" || s.Port == 0 {
		t.Fatalf("server address %s", s.Addr())
	}
	c, err := dialServer(t, s, s.ClientKey.Signer)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.Output("echo hi")
	if err != nil || strings.TrimSpace(string(out)) != "hi" {
		t.Fatalf("echo: %q %v", out, err)
	}

	s.Kill()
	if s.Running() {
		t.Fatal("sshd still running after Kill")
	}
	if err := c.Wait(); err == nil {
		t.Log("connection ended cleanly") // either way it must end, not hang
	}
	if _, err := dialServer(t, s, s.ClientKey.Signer); err == nil {
		t.Fatal("dial succeeded against a killed sshd")
	}
	s.Restart()
	c2, err := dialServer(t, s, s.ClientKey.Signer)
	if err != nil {
		t.Fatalf("dial after restart: %v", err)
	}
	c2.Close()
}

func TestServerRejectsUnknownClientKey(t *testing.T) {
	s := Start(t, WithHostKeyTypes(ED25519))
	other, err := GenerateKey(t.TempDir(), "other", ECDSA, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dialServer(t, s, other.Signer); err == nil {
		t.Fatal("an unauthorized key was accepted")
	}
	if err := s.Authorize(other.Public); err != nil {
		t.Fatal(err)
	}
	c, err := dialServer(t, s, other.Signer)
	if err != nil {
		t.Fatalf("authorized key refused: %v", err)
	}
	c.Close()
}
