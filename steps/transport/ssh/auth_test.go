package ssh

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/zdu-dev/zdu/steps/transport"
	"github.com/zdu-dev/zdu/steps/transport/ssh/sshtest"
)

func TestAuthIdentityFileTypes(t *testing.T) {
	srv := sshtest.Start(t)
	dir := t.TempDir()
	for _, typ := range []sshtest.KeyType{sshtest.ED25519, sshtest.ECDSA, sshtest.RSA} {
		t.Run(string(typ), func(t *testing.T) {
			k, err := sshtest.GenerateKey(dir, "id_"+string(typ), typ, "")
			if err != nil {
				t.Fatal(err)
			}
			cfg := nodeConfig(srv)
			cfg.IdentityFiles = []string{k.Path}
			if _, err := Dial(context.Background(), cfg); err == nil {
				t.Fatal("a key the server does not authorize was accepted")
			}
			if err := srv.Authorize(k.Public); err != nil {
				t.Fatal(err)
			}
			tr := dialT(t, cfg)
			if res := runT(t, tr, "id -un"); strings.TrimSpace(string(res.Stdout)) != srv.User {
				t.Fatalf("logged in as %q, want %q", res.Stdout, srv.User)
			}
		})
	}
}

func TestAuthAgent(t *testing.T) {
	srv := sshtest.Start(t)
	k, err := sshtest.GenerateKey(t.TempDir(), "agent_key", sshtest.ECDSA, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Authorize(k.Public); err != nil {
		t.Fatal(err)
	}
	sock := sshtest.StartAgent(t, k.Private)
	cfg := nodeConfig(srv)
	cfg.IdentityFiles = nil
	cfg.Agent = true
	cfg.AgentSocket = sock
	t.Setenv("HOME", t.TempDir()) // no default ~/.ssh/id_* keys to fall back on
	tr := dialT(t, cfg)
	runT(t, tr, "true")
	if !strings.Contains(srv.Log(), "Accepted publickey for "+srv.User) ||
		!strings.Contains(srv.Log(), strings.TrimPrefix(fingerprint(k), "SHA256:")) {
		t.Fatalf("sshd did not log a login with the agent's key:\n%s", srv.Log())
	}
}

// A passphrase-protected key is a clear error naming the file, unless the
// agent holds it (then the agent signs).
func TestAuthPassphraseProtectedKey(t *testing.T) {
	srv := sshtest.Start(t)
	k, err := sshtest.GenerateKey(t.TempDir(), "locked_key", sshtest.ED25519, "secret")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Authorize(k.Public); err != nil {
		t.Fatal(err)
	}
	cfg := nodeConfig(srv)
	cfg.IdentityFiles = []string{k.Path}
	_, err = Dial(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), k.Path) || !strings.Contains(err.Error(), "passphrase") {
		t.Fatalf("error %v, want one naming %s and its passphrase", err, k.Path)
	}
	if !errors.Is(err, transport.ErrUnreachable) {
		t.Fatalf("error %v does not wrap transport.ErrUnreachable", err)
	}
	cfg.Agent = true
	cfg.AgentSocket = sshtest.StartAgent(t, k.Private)
	dialT(t, cfg)
}

func TestAuthErrors(t *testing.T) {
	srv := sshtest.Start(t)
	stranger, err := sshtest.GenerateKey(t.TempDir(), "stranger", sshtest.ED25519, "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(*Config)
		want []string
	}{
		{"refused key", func(c *Config) { c.IdentityFiles = []string{stranger.Path} },
			[]string{"authentication as " + srv.User, stranger.Path, "node ("}},
		{"missing identity file", func(c *Config) { c.IdentityFiles = []string{"/nonexistent/id_x"} },
			[]string{"/nonexistent/id_x"}},
		{"agent without socket", func(c *Config) { c.IdentityFiles = []string{"/nonexistent/id_x"}; c.Agent = true },
			[]string{"/nonexistent/id_x"}},
		{"wrong user", func(c *Config) { c.User = "nobody" }, []string{"authentication as nobody"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := nodeConfig(srv)
			tc.edit(&cfg)
			_, err := Dial(context.Background(), cfg)
			var ue *transport.UnreachableError
			if !errors.As(err, &ue) {
				t.Fatalf("error %v, want *transport.UnreachableError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func fingerprint(k *sshtest.Key) string {
	return sshFingerprint(k.Public)
}
