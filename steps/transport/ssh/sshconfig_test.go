package ssh

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/zdu-dev/zdu/steps/transport/ssh/sshtest"
)

func TestSSHConfigLookup(t *testing.T) {
	dir := t.TempDir()
	inc := filepath.Join(dir, "included.conf")
	if err := os.WriteFile(inc, []byte("Host inc\n  HostName 10.9.9.9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "config")
	text := `# comment
Host web-* !web-skip
    HostName %h.example.net
    User deploy
    Port=2222
    IdentityFile ~/.ssh/deploy_key
Host web-1
    User ignored-first-wins
    IdentityFile "/keys/with space"
Match host foo
    User never
Host *
    ProxyJump bastion
    User fallback
Include ` + inc + `
`
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := readSSHConfig(conf)
	if err != nil {
		t.Fatal(err)
	}
	home := homeDir()
	tests := []struct {
		alias string
		want  hostSettings
	}{
		{"web-1", hostSettings{HostName: "web-1.example.net", User: "deploy", Port: "2222",
			IdentityFiles: []string{"~/.ssh/deploy_key", "/keys/with space"}, ProxyJump: "bastion"}},
		{"web-skip", hostSettings{User: "fallback", ProxyJump: "bastion"}},
		{"inc", hostSettings{HostName: "10.9.9.9", User: "fallback", ProxyJump: "bastion"}},
	}
	for _, tc := range tests {
		t.Run(tc.alias, func(t *testing.T) {
			if got := c.lookup(tc.alias); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("lookup(%s) = %+v, want %+v", tc.alias, got, tc.want)
			}
		})
	}
	if got := expandTokens("~/.ssh/id_%h_%r", "h", "22", "r", "l"); got != filepath.Join(home, ".ssh/id_h_r") {
		t.Errorf("expandTokens = %q", got)
	}
}

func TestSplitConfigLineErrors(t *testing.T) {
	for _, l := range []string{"HostName", `IdentityFile "unterminated`} {
		if _, _, err := splitConfigLine(l); err == nil {
			t.Errorf("splitConfigLine(%q) accepted", l)
		}
	}
}

// An ssh_config alias supplies HostName, Port, User and IdentityFile; values
// set in the inventory (Config) win over it.
func TestSSHConfigAlias(t *testing.T) {
	srv := sshtest.Start(t)
	conf := filepath.Join(t.TempDir(), "config")
	text := "Host mynode\n  HostName 127.0.0.1\n  Port " + itoa(srv.Port) + "\n  User " + srv.User +
		"\n  IdentityFile " + srv.ClientKeyFile() + "\n"
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Name: "n1", Host: "mynode", SSHConfigFile: conf, KnownHostsFiles: []string{srv.KnownHostsFile()}}
	tr := dialT(t, cfg)
	if res := runT(t, tr, "id -un"); strings.TrimSpace(string(res.Stdout)) != srv.User {
		t.Fatalf("logged in as %q", res.Stdout)
	}
	if !strings.HasPrefix(tr.Name(), "n1 ("+srv.User+"@127.0.0.1:") {
		t.Errorf("Name() = %q", tr.Name())
	}
	// Inventory wins: a wrong port in the inventory must be used (and fail).
	cfg.Port = 1
	if _, err := Dial(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("inventory port not used: %v", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
