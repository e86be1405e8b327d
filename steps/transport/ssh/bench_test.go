package ssh

import (
	"context"
	"testing"
	"time"

	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/zdu-dev/zdu/steps/transport"
	"github.com/zdu-dev/zdu/steps/transport/ssh/sshtest"
)

var rollingSteps = []string{"echo one", "true", "hostname", "test -d /tmp", "date +%s"}

// BenchmarkRolling is one rolling run: 10 nodes in turn, each connected,
// given 5 trivial commands on that one connection, and closed. "transport"
// is zdu's transport, "bare" the x/crypto/ssh floor it is measured against
// (.bench/ssh/run.sh adds ansible-playbook).
//
//	go test -run '^$' -bench Rolling ./steps/transport/ssh/
func BenchmarkRolling(b *testing.B) {
	var nodes []*sshtest.Server
	for i := 0; i < 10; i++ {
		nodes = append(nodes, sshtest.Start(b))
	}
	b.Run("transport", func(b *testing.B) {
		for b.Loop() {
			for _, srv := range nodes {
				tr, err := Dial(context.Background(), nodeConfig(srv))
				if err != nil {
					b.Fatal(err)
				}
				for _, s := range rollingSteps {
					if res, err := tr.Run(context.Background(), transport.Command{Script: s}); err != nil || res.ExitCode != 0 {
						b.Fatalf("%s: %v %+v", s, err, res)
					}
				}
				tr.Close()
			}
		}
	})
	b.Run("bare", func(b *testing.B) {
		for b.Loop() {
			for _, srv := range nodes {
				cb, err := knownhosts.New(srv.KnownHostsFile())
				if err != nil {
					b.Fatal(err)
				}
				c, err := xssh.Dial("tcp", srv.Addr(), &xssh.ClientConfig{User: srv.User,
					Auth:            []xssh.AuthMethod{xssh.PublicKeys(srv.ClientKey.Signer)},
					HostKeyCallback: cb, HostKeyAlgorithms: []string{srv.HostKey().Type()}, Timeout: 10 * time.Second})
				if err != nil {
					b.Fatal(err)
				}
				for _, s := range rollingSteps {
					sess, err := c.NewSession()
					if err != nil {
						b.Fatal(err)
					}
					if _, err := sess.CombinedOutput(s); err != nil {
						b.Fatalf("%s: %v", s, err)
					}
					sess.Close()
				}
				c.Close()
			}
		}
	})
}
