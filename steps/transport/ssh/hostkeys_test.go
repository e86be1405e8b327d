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

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/zdu-dev/zdu/steps/transport/ssh/sshtest"
)

func sshFingerprint(k ssh.PublicKey) string { return ssh.FingerprintSHA256(k) }

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The server holds ed25519, ecdsa and rsa keys; known_hosts holds one of
// them. Only that algorithm may be negotiated, or verification would fail.
func TestHostKeyVerification(t *testing.T) {
	srv := sshtest.Start(t, sshtest.WithHostKeyTypes(sshtest.ED25519, sshtest.ECDSA, sshtest.RSA))
	other := sshtest.Start(t, sshtest.WithHostKeyTypes(sshtest.ED25519))
	line := func(k ssh.PublicKey, hashed bool) string {
		l := srv.KnownHostsLine()
		if hashed {
			l = srv.HashedKnownHostsLine()
		}
		fields := strings.Fields(l)
		return fields[0] + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) + "\n"
	}
	tests := []struct {
		name    string
		known   string
		tofu    bool
		wantErr any // nil, *HostKeyUnknownError or *HostKeyChangedError
	}{
		{"ed25519 only", line(srv.HostKeys[0].Public, false), false, nil},
		{"ecdsa only", line(srv.HostKeys[1].Public, false), false, nil},
		{"rsa only", line(srv.HostKeys[2].Public, false), false, nil},
		{"hashed entry", line(srv.HostKeys[0].Public, true), false, nil},
		{"unknown host", "", false, &HostKeyUnknownError{}},
		{"other host's key", line(other.HostKey(), false), false, &HostKeyChangedError{}},
		{"changed key even with tofu", line(other.HostKey(), false), true, &HostKeyChangedError{}},
		{"changed hashed key", line(other.HostKey(), true), false, &HostKeyChangedError{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := writeFile(t, tc.known)
			cfg := nodeConfig(srv)
			cfg.KnownHostsFiles = []string{file}
			cfg.TrustOnFirstUse = tc.tofu
			tr, err := Dial(context.Background(), cfg)
			switch want := tc.wantErr.(type) {
			case nil:
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				tr.Close()
			case *HostKeyUnknownError:
				if !errors.As(err, &want) || !strings.Contains(err.Error(), file) {
					t.Fatalf("error %v, want an unknown host key error naming %s", err, file)
				}
			case *HostKeyChangedError:
				if !errors.As(err, &want) {
					t.Fatalf("error %v, want a changed host key error", err)
				}
				if msg := err.Error(); !strings.Contains(msg, file) || !strings.Contains(msg, "["+srv.Host+"]") ||
					!strings.Contains(msg, "CHANGED") {
					t.Fatalf("error %q should name the host and %s", msg, file)
				}
			}
		})
	}
}

func TestTrustOnFirstUse(t *testing.T) {
	srv := sshtest.Start(t)
	file := filepath.Join(t.TempDir(), "sub", "known_hosts") // dir created on demand
	cfg := nodeConfig(srv)
	cfg.KnownHostsFiles = []string{file}
	if _, err := Dial(context.Background(), cfg); err == nil {
		t.Fatal("an unknown host was accepted without trust-on-first-use")
	}
	cfg.TrustOnFirstUse = true
	dialT(t, cfg).Close()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("nothing recorded: %v", err)
	}
	if n := strings.Count(string(b), "\n"); n != 1 || !strings.HasPrefix(string(b), "["+srv.Host+"]:") {
		t.Fatalf("recorded %q, want one [host]:port line", b)
	}
	// The recorded key now verifies without trust-on-first-use...
	cfg.TrustOnFirstUse = false
	dialT(t, cfg).Close()
	// ...and a different server on that address is refused even with it.
	impostor := sshtest.Start(t)
	impostor.Kill()
	srv.Kill()
	swapped := nodeConfig(impostor)
	swapped.Port = srv.Port
	swapped.KnownHostsFiles = []string{file}
	swapped.TrustOnFirstUse = true
	restartOn := sshtest.Start(t, sshtest.WithPort(srv.Port))
	swapped.IdentityFiles = []string{restartOn.ClientKeyFile()}
	var changed *HostKeyChangedError
	if _, err := Dial(context.Background(), swapped); !errors.As(err, &changed) {
		t.Fatalf("error %v, want a changed host key", err)
	}
	if b2, _ := os.ReadFile(file); string(b2) != string(b) {
		t.Fatalf("known_hosts changed on a changed key:\n%s", b2)
	}
}

// The cache serves a known_hosts file parsed once, and reads it again when
// it changed: a replaced key is seen by the next dial.
func TestHostKeyCacheRereadsChangedFile(t *testing.T) {
	dir := t.TempDir()
	a, err := sshtest.GenerateKey(dir, "a", sshtest.ED25519, "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := sshtest.GenerateKey(dir, "b", sshtest.ED25519, "")
	if err != nil {
		t.Fatal(err)
	}
	kh := filepath.Join(dir, "known_hosts")
	write := func(k *sshtest.Key) {
		t.Helper()
		if err := os.WriteFile(kh, []byte(knownhosts.Line([]string{"[127.0.0.1]:2222"}, k.Public)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2222}
	var c HostKeyCache
	write(a)
	for range 2 {
		keys, err := c.load([]string{kh}, false)
		if err != nil || keys.check("127.0.0.1:2222", addr, a.Public) != nil {
			t.Fatalf("key a: %v", err)
		}
	}
	// Same size, another key: the modification time tells.
	time.Sleep(10 * time.Millisecond)
	write(b)
	keys, err := c.load([]string{kh}, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.check("127.0.0.1:2222", addr, b.Public); err != nil {
		t.Fatalf("the new key is not seen: %v", err)
	}
	var changed *HostKeyChangedError
	if err := keys.check("127.0.0.1:2222", addr, a.Public); !errors.As(err, &changed) {
		t.Fatalf("the old key: %v, want HOST KEY CHANGED", err)
	}
}
