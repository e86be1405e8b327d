package sandbox

import (
	"fmt"
	"io"
	"net"
	"sync"

	"golang.org/x/crypto/ssh"
)

// forwardTCP serves direct-tcpip: a TCP connection opened from the node.
// The sandbox lives on loopback, so only loopback destinations are allowed.
func (n *SSHNode) forwardTCP(nc ssh.NewChannel) {
	var p struct {
		Host     string
		Port     uint32
		OrigHost string
		OrigPort uint32
	}
	if err := ssh.Unmarshal(nc.ExtraData(), &p); err != nil {
		_ = nc.Reject(ssh.ConnectionFailed, "bad direct-tcpip request")
		return
	}
	if !isLoopback(p.Host) {
		_ = nc.Reject(ssh.Prohibited, fmt.Sprintf("node %s: only loopback destinations, not %s", n.Name, p.Host))
		return
	}
	n.forward(nc, "tcp", net.JoinHostPort(p.Host, portString(p.Port)))
}

// forwardUnix serves direct-streamlocal@openssh.com: a unix socket on the
// node, e.g. HAProxy's admin socket.
func (n *SSHNode) forwardUnix(nc ssh.NewChannel) {
	var p struct {
		Path      string
		Reserved0 string
		Reserved1 uint32
	}
	if err := ssh.Unmarshal(nc.ExtraData(), &p); err != nil {
		_ = nc.Reject(ssh.ConnectionFailed, "bad direct-streamlocal request")
		return
	}
	n.forward(nc, "unix", p.Path)
}

func (n *SSHNode) forward(nc ssh.NewChannel, network, addr string) {
	c, err := net.Dial(network, addr)
	if err != nil {
		_ = nc.Reject(ssh.ConnectionFailed, fmt.Sprintf("node %s: %v", n.Name, err))
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		c.Close()
		return
	}
	go func() {
		ssh.DiscardRequests(reqs)
		// The channel is gone (closed or its connection died): the local
		// end must not keep the copies waiting.
		c.Close()
	}()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, _ = io.Copy(ch, c)
		_ = ch.CloseWrite()
	}()
	go func() {
		defer wg.Done()
		_, _ = io.Copy(c, ch)
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		} else {
			c.Close()
		}
	}()
	wg.Wait()
	ch.Close()
	c.Close()
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
