package fleetsim_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/engine/fleetsim"
	"github.com/zdu-dev/zdu/steps/transport"
	zssh "github.com/zdu-dev/zdu/steps/transport/ssh"
	"github.com/zdu-dev/zdu/steps/transport/ssh/sshtest"
)

// zdu's own SSH transport reaches every virtual node with its host key
// checked, runs commands through its process-group wrapper, and gets the
// stand-ins' answers; a fleet whose MaxStartups is taken drops handshakes
// before the banner, which the transport retries.
func TestTransportAgainstFleet(t *testing.T) {
	dir := t.TempDir()
	key, err := sshtest.GenerateKey(dir, "id", sshtest.ED25519, "")
	if err != nil {
		t.Fatal(err)
	}
	f, err := fleetsim.Start(fleetsim.Options{Nodes: 12, MaxStartups: 2}, key.Public)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteInventory(dir, key.Path, "sim"); err != nil {
		t.Fatal(err)
	}
	// Take both startup slots with silent connections; the first refusal
	// frees them.
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", f.Addr(0))
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "SSH-" {
			t.Fatalf("held connection: %q %v", buf, err)
		}
		held = append(held, c)
	}
	var once sync.Once
	free := func(error) {
		once.Do(func() {
			for _, c := range held {
				c.Close()
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // a hang guard
	defer cancel()
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			host, port := f.HostPort(i)
			tr, err := zssh.Dial(ctx, zssh.Config{Name: fmt.Sprintf("sim-%d", i+1), Host: host, Port: port, User: "sim",
				IdentityFiles: []string{key.Path}, KnownHostsFiles: []string{dir + "/known_hosts"}, SSHConfigFile: "none",
				OnRefused: free})
			if err != nil {
				t.Errorf("node %d: %v", i+1, err)
				return
			}
			defer tr.Close()
			for _, c := range []struct {
				script, out string
				code        int
			}{{"echo zdu-ok", "zdu-ok\n", 0}, {"true", "", 0}, {"exit 3", "", 3}, {"echo it's", "it's\n", 0}} {
				res, err := tr.Run(ctx, transport.Command{Script: c.script})
				if err != nil || string(res.Stdout) != c.out || res.ExitCode != c.code || len(res.Stderr) != 0 {
					t.Errorf("node %d: %q: exit %d, stdout %q, stderr %q, %v", i+1, c.script, res.ExitCode, res.Stdout, res.Stderr, err)
				}
			}
		}()
	}
	wg.Wait()
	st := f.Stats()
	if st.Handshakes != 12 || st.Commands != 48 || st.Dropped == 0 || st.PeakOpen < 1 || st.PeakOpen > 12 {
		t.Fatalf("stats %+v: want 12 logins, 48 commands, some drops", st)
	}
}
