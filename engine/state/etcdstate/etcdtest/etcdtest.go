// Package etcdtest starts a real etcd cluster (the Debian etcd-server
// package's etcd) on loopback for tests: each member a process of its own
// with a temporary data directory and ports of its own, stopped by PID when
// the test ends. Members can be killed and started again mid-test.
package etcdtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Path is where the Debian package installs etcd.
const Path = "/usr/bin/etcd"

// Member is one etcd process.
type Member struct {
	Name, Dir    string
	Client, Peer string // host:port
	cmd          *exec.Cmd
	exited       chan struct{}
	log          *os.File
}

// Cluster is a test's etcd cluster.
type Cluster struct {
	t       testing.TB
	Members []*Member
	initial string
}

// Start starts an n-member cluster and waits until it answers; the test is
// skipped when etcd is not installed.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	if _, err := os.Stat(Path); err != nil {
		t.Skipf("%s is not installed (apt-get install etcd-server): %v", Path, err)
	}
	base := t.TempDir()
	c := &Cluster{t: t}
	var peers []string
	for i := range n {
		m := &Member{Name: fmt.Sprintf("m%d", i), Dir: filepath.Join(base, fmt.Sprintf("m%d", i)), Client: freePort(t), Peer: freePort(t)}
		c.Members = append(c.Members, m)
		peers = append(peers, m.Name+"=http://"+m.Peer)
	}
	c.initial = strings.Join(peers, ",")
	t.Cleanup(func() {
		for _, m := range c.Members {
			c.Kill(m)
		}
	})
	for _, m := range c.Members {
		c.start(m)
	}
	c.WaitHealthy()
	return c
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func (c *Cluster) start(m *Member) {
	c.t.Helper()
	log, err := os.OpenFile(filepath.Join(filepath.Dir(m.Dir), m.Name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		c.t.Fatal(err)
	}
	// Generous timings: the tests run on loaded 2-core machines.
	m.cmd = exec.Command(Path, "--name", m.Name, "--data-dir", m.Dir,
		"--listen-client-urls", "http://"+m.Client, "--advertise-client-urls", "http://"+m.Client,
		"--listen-peer-urls", "http://"+m.Peer, "--initial-advertise-peer-urls", "http://"+m.Peer,
		"--initial-cluster", c.initial, "--initial-cluster-state", "new", "--initial-cluster-token", "zdu-test",
		"--heartbeat-interval", "200", "--election-timeout", "2000", "--logger", "zap", "--log-outputs", "stderr")
	m.cmd.Stdout, m.cmd.Stderr = log, log
	m.log = log
	if err := m.cmd.Start(); err != nil {
		c.t.Fatalf("starting etcd %s: %v", m.Name, err)
	}
	m.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) { _ = cmd.Wait(); close(exited) }(m.cmd, m.exited)
}

// Kill stops a member with SIGKILL (by its PID) and waits for its end.
func (c *Cluster) Kill(m *Member) {
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGKILL)
	<-m.exited
	m.log.Close()
	m.cmd = nil
}

// Restart starts a killed member again on its data directory.
func (c *Cluster) Restart(m *Member) { c.start(m) }

// Endpoints are the members' client addresses.
func (c *Cluster) Endpoints() []string {
	var out []string
	for _, m := range c.Members {
		out = append(out, m.Client)
	}
	return out
}

// URL is zdu's --state for the cluster, with prefix and settings (query).
func (c *Cluster) URL(prefix, query string) string {
	u := "etcd://" + strings.Join(c.Endpoints(), ",") + "/" + prefix
	if query != "" {
		u += "?" + query
	}
	return u
}

// Client is a client of the cluster, closed when the test ends.
func (c *Cluster) Client() *clientv3.Client {
	c.t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { cli.Close() })
	return cli
}

// WaitHealthy waits (two minutes at most) until the cluster commits a write.
func (c *Cluster) WaitHealthy() {
	c.t.Helper()
	cli := c.Client()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err := cli.Put(ctx, "/etcdtest/health", time.Now().String())
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("the etcd cluster did not answer within 2 minutes: %v (logs in %s)", err, filepath.Dir(c.Members[0].Dir))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
