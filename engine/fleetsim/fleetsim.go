// Package fleetsim serves a fleet of virtual SSH nodes from one process, for
// benchmarks and tests of zdu at fleet scale: each node has its own loopback
// listener and host key and takes one client key; the commands zdu sends are
// answered by stand-ins instead of processes (the process-group wrapper is
// recognised and its marker answered), after a configurable latency. Like
// sshd's MaxStartups, handshakes over a limit are dropped before the banner.
// Each node listens on an address of its own in 127.1.0.0/16 and up.
// It counts what a benchmark needs: connections open now and at most,
// handshakes, drops, commands.
package fleetsim

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	zssh "github.com/zdu-dev/zdu/steps/transport/ssh"
)

// Options shape a fleet.
type Options struct {
	// Nodes is how many virtual nodes to serve.
	Nodes int
	// Latency is added before every command's answer (a network round trip
	// and the command's own time).
	Latency time.Duration
	// MaxStartups is how many handshakes may be in progress at once over the
	// whole fleet (a bastion's limit; sshd's is per host); one more is told
	// "Exceeded MaxStartups" and closed, as sshd does. 0: no limit.
	MaxStartups int
	// User is the only user name accepted ("" any).
	User string
	// First numbers the first node (0 is 1): nodes are sim-First and up, on
	// the addresses that go with those numbers, so several processes can
	// serve one fleet in shards (each process has its own open-file limit).
	First int
}

// Stats are what the fleet saw.
type Stats struct {
	Handshakes int64 // connections that logged in
	Dropped    int64 // connections dropped over MaxStartups
	Commands   int64 // exec requests answered
	Open       int64 // logged-in connections open now
	PeakOpen   int64 // most logged-in connections open at once
}

// Fleet is a running fleet.
type Fleet struct {
	opt   Options
	nodes []*node

	startups                      atomic.Int64
	handshakes, dropped, commands atomic.Int64
	open, peakOpen                atomic.Int64
	wg                            sync.WaitGroup
	closeOnce                     sync.Once

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

type node struct {
	name    string
	ln      net.Listener
	hostKey ssh.Signer
	conf    *ssh.ServerConfig
}

// Start serves opt.Nodes nodes on loopback, each on an address of its own
// (all on one port), accepting the client key.
func Start(opt Options, client ssh.PublicKey) (*Fleet, error) {
	if opt.Nodes < 1 {
		return nil, fmt.Errorf("fleetsim: %d nodes", opt.Nodes)
	}
	f := &Fleet{opt: opt, conns: map[net.Conn]struct{}{}}
	want := client.Marshal()
	port := 0
	first := max(opt.First, 1)
	for i := first; i < first+opt.Nodes; i++ {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			f.Close()
			return nil, err
		}
		signer, err := ssh.NewSignerFromKey(priv)
		if err != nil {
			f.Close()
			return nil, err
		}
		n := &node{name: fmt.Sprintf("sim-%d", i), hostKey: signer}
		n.conf = &ssh.ServerConfig{ServerVersion: "SSH-2.0-zdu-fleetsim",
			PublicKeyCallback: func(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
				if opt.User != "" && meta.User() != opt.User {
					return nil, fmt.Errorf("user %q not allowed", meta.User())
				}
				if string(key.Marshal()) != string(want) {
					return nil, errors.New("key not authorized")
				}
				return nil, nil
			}}
		n.conf.AddHostKey(signer)
		if n.ln, err = listen(i, i == first, &port); err != nil {
			f.Close()
			return nil, fmt.Errorf("fleetsim: listening for node %d: %w", i, err)
		}
		f.nodes = append(f.nodes, n)
		f.wg.Add(1)
		go f.accept(n)
	}
	return f, nil
}

// listen opens node i's listener: on one port shared by every node, each
// on a loopback address of its own (127.1.0.1, 127.1.0.2, ...). Asking the
// kernel for a free port per node slows down to seconds a port once many
// thousands are bound; a fixed (address, port) binds at once. The first
// node's port is the kernel's choice, retried if a later address has it.
func listen(i int, firstNode bool, port *int) (net.Listener, error) {
	ip := net.IPv4(127, byte(1+i/65025), byte(i/255%255), byte(1+i%255))
	for attempt := 0; ; attempt++ {
		ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), strconv.Itoa(*port)))
		if err == nil {
			if *port == 0 {
				*port = ln.Addr().(*net.TCPAddr).Port
			}
			return ln, nil
		}
		if !firstNode || attempt >= 20 {
			return nil, err
		}
	}
}

// Stats returns the counters now.
func (f *Fleet) Stats() Stats {
	return Stats{Handshakes: f.handshakes.Load(), Dropped: f.dropped.Load(), Commands: f.commands.Load(),
		Open: f.open.Load(), PeakOpen: f.peakOpen.Load()}
}

// Addr is node i's address (from 0).
func (f *Fleet) Addr(i int) string { return f.nodes[i].ln.Addr().String() }

// HostPort is node i's host and port (from 0).
func (f *Fleet) HostPort(i int) (string, int) {
	a := f.nodes[i].ln.Addr().(*net.TCPAddr)
	return a.IP.String(), a.Port
}

// WriteInventory writes a zdu inventory of the fleet (one group, all) and
// its known_hosts into dir, and returns the inventory's path.
func (f *Fleet) WriteInventory(dir, identityFile, user string) (string, error) {
	var inv, kh strings.Builder
	kh.Grow(len(f.nodes) * 120)
	inv.Grow(len(f.nodes) * 80)
	khPath := filepath.Join(dir, "known_hosts")
	fmt.Fprintf(&inv, "apiVersion: zdu/v1\nkind: Inventory\nssh:\n  knownHosts: [%s]\n  identityFiles: [%s]\n  config: none\n  connectTimeout: 60s\nnodes:\n",
		khPath, identityFile)
	for _, n := range f.nodes {
		addr := n.ln.Addr().(*net.TCPAddr)
		fmt.Fprintf(&inv, "  - {name: %s, host: %s, port: %d, user: %s}\n", n.name, addr.IP, addr.Port, user)
		kh.WriteString(knownhosts.Line([]string{knownhosts.Normalize(addr.String())}, n.hostKey.PublicKey()) + "\n")
	}
	if err := os.WriteFile(khPath, []byte(kh.String()), 0o600); err != nil {
		return "", err
	}
	p := filepath.Join(dir, "inventory.yaml")
	return p, os.WriteFile(p, []byte(inv.String()), 0o600)
}

// Close stops every node and waits for their connections to end.
func (f *Fleet) Close() {
	f.closeOnce.Do(func() {
		f.mu.Lock()
		f.closed = true
		for c := range f.conns {
			c.Close()
		}
		f.mu.Unlock()
		for _, n := range f.nodes {
			n.ln.Close()
		}
	})
	f.wg.Wait()
}

func (f *Fleet) accept(n *node) {
	defer f.wg.Done()
	for {
		c, err := n.ln.Accept()
		if err != nil {
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.serve(n, c)
		}()
	}
}

func (f *Fleet) serve(n *node, raw net.Conn) {
	defer raw.Close()
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.conns[raw] = struct{}{}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.conns, raw)
		f.mu.Unlock()
	}()
	if lim := f.opt.MaxStartups; lim > 0 {
		if f.startups.Add(1) > int64(lim) {
			f.startups.Add(-1)
			f.dropped.Add(1)
			_, _ = raw.Write([]byte("Exceeded MaxStartups\r\n"))
			return
		}
	}
	_ = raw.SetDeadline(time.Now().Add(2 * time.Minute)) // LoginGraceTime
	sc, chans, reqs, err := ssh.NewServerConn(raw, n.conf)
	if f.opt.MaxStartups > 0 {
		f.startups.Add(-1)
	}
	if err != nil {
		return
	}
	_ = raw.SetDeadline(time.Time{})
	defer sc.Close()
	f.handshakes.Add(1)
	open := f.open.Add(1)
	defer f.open.Add(-1)
	for {
		p := f.peakOpen.Load()
		if open <= p || f.peakOpen.CompareAndSwap(p, open) {
			break
		}
	}
	go func() {
		for r := range reqs {
			if r.WantReply {
				_ = r.Reply(r.Type == "keepalive@openssh.com", nil)
			}
		}
	}()
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "fleetsim serves sessions only")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		go f.session(ch, creqs)
	}
}

// session answers one exec request, then closes the channel.
func (f *Fleet) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	for r := range reqs {
		if r.Type != "exec" {
			if r.WantReply {
				_ = r.Reply(r.Type == "env", nil)
			}
			continue
		}
		var cmd string
		if len(r.Payload) >= 4 {
			l := binary.BigEndian.Uint32(r.Payload)
			if int(l) <= len(r.Payload)-4 {
				cmd = string(r.Payload[4 : 4+l])
			}
		}
		_ = r.Reply(true, nil)
		f.commands.Add(1)
		if f.opt.Latency > 0 {
			time.Sleep(f.opt.Latency)
		}
		stdout, stderr, code := Answer(cmd)
		_, _ = ch.Write([]byte(stdout))
		_, _ = ch.Stderr().Write([]byte(stderr))
		_, _ = ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, uint32(code)))
		return
	}
}

// Answer is the stand-in for a command line: zdu's process-group wrapper is
// unwrapped (its marker answered with a made-up group id), then the script
// is answered: `echo WORDS` prints them, `exit N` exits N, `false` exits 1,
// anything else succeeds silently.
func Answer(cmd string) (stdout, stderr string, code int) {
	script := cmd
	if inner, token, ok := zssh.Unwrap(cmd); ok {
		script, stderr = inner, "zdu-pgid:"+token+":4242\n"
	}
	script = strings.TrimSpace(script)
	switch {
	case script == "false":
		return "", stderr, 1
	case strings.HasPrefix(script, "exit "):
		n, _ := strconv.Atoi(strings.TrimSpace(script[5:]))
		return "", stderr, n
	case script == "echo":
		return "\n", stderr, 0
	case strings.HasPrefix(script, "echo "):
		return strings.TrimSpace(script[5:]) + "\n", stderr, 0
	}
	return "", stderr, 0
}

// Serve runs a fleet until ctx ends (for a benchmark's helper process).
func Serve(ctx context.Context, opt Options, client ssh.PublicKey, ready func(*Fleet) error) (Stats, error) {
	f, err := Start(opt, client)
	if err != nil {
		return Stats{}, err
	}
	defer f.Close()
	if ready != nil {
		if err := ready(f); err != nil {
			return f.Stats(), err
		}
	}
	<-ctx.Done()
	return f.Stats(), nil
}
