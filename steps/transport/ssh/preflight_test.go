package ssh

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/zdu-dev/zdu/steps/transport"
	"github.com/zdu-dev/zdu/steps/transport/ssh/sshtest"
)

// Several sshd on separate ports are separate nodes; preflight reaches the
// good ones and reports every bad one, each by name, in one go.
func TestPreflight(t *testing.T) {
	var cfgs []Config
	for i := 0; i < 3; i++ {
		srv := sshtest.Start(t)
		c := nodeConfig(srv)
		c.Name = fmt.Sprintf("good%d", i)
		cfgs = append(cfgs, c)
	}
	bad := sshtest.Start(t)
	down := nodeConfig(bad)
	down.Name = "down"
	down.Port = 1
	unknownKey := nodeConfig(bad)
	unknownKey.Name = "unknown-key"
	unknownKey.KnownHostsFiles = []string{"/dev/null"}
	stranger, err := sshtest.GenerateKey(t.TempDir(), "stranger", sshtest.ED25519, "")
	if err != nil {
		t.Fatal(err)
	}
	badKey := nodeConfig(bad)
	badKey.Name = "bad-key"
	badKey.IdentityFiles = []string{stranger.Path}
	cfgs = append(cfgs, down, unknownKey, badKey)

	got, errs := Preflight(context.Background(), cfgs)
	for _, tr := range got {
		defer tr.Close()
	}
	var names []string
	for n := range got {
		names = append(names, n)
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "good0,good1,good2" {
		t.Errorf("reached %v, want good0..2", names)
	}
	want := []string{"down", "unknown-key", "bad-key"}
	if len(errs) != len(want) {
		t.Fatalf("%d errors, want %d: %v", len(errs), len(want), errs)
	}
	for i, err := range errs {
		var ue *transport.UnreachableError
		if !errors.As(err, &ue) || !strings.HasPrefix(ue.Host, want[i]+" (") {
			t.Errorf("error %d = %v, want an UnreachableError for %s", i, err, want[i])
		}
	}
	var unknown *HostKeyUnknownError
	if !errors.As(errs[1], &unknown) {
		t.Errorf("unknown-key error %v is not a HostKeyUnknownError", errs[1])
	}
	for _, tr := range got {
		runT(t, tr, "true")
	}
}

func TestPreflightDuplicateNames(t *testing.T) {
	cfg := Config{Name: "a", Host: "127.0.0.1", Port: 1, SSHConfigFile: "none"}
	_, errs := Preflight(context.Background(), []Config{cfg, cfg})
	if len(errs) != 2 || !strings.Contains(errors.Join(errs...).Error(), "listed twice") {
		t.Fatalf("errors %v", errs)
	}
}
