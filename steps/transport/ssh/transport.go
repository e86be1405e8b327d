package ssh

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/zdu-dev/zdu/steps/transport"
)

// ErrConnectionLost means the connection died while a command was running:
// unlike an unreachable node, the command may have run, partly or fully.
var ErrConnectionLost = errors.New("ssh connection lost")

// ErrClosed is returned by a Transport used after Close.
var ErrClosed = errors.New("ssh transport closed")

// Transport is the SSH transport to one node: one connection, opened by Dial,
// reopened when it dies between commands, shared by concurrent commands.
type Transport struct {
	cfg   Config
	ep    endpoint
	label string

	// lock (a channel, so waiting honours ctx) serializes (re)connecting, so
	// concurrent commands never open a second connection.
	lock     chan struct{}
	cur      *conn // guarded by lock
	sessions *sessionLimit

	closeOnce sync.Once
	closed    chan struct{}
}

var _ transport.Transport = (*Transport)(nil)

// conn is one live connection and its keepalive.
type conn struct {
	ch   *chain
	done chan struct{} // closed when the connection is gone
	mu   sync.Mutex
	why  error // why it ended, when known
	// leads: a command on this connection needed no new process group
	// (see wrap).
	leads atomic.Bool
}

// Dial resolves cfg (with ssh_config), connects and authenticates. Failures
// are *transport.UnreachableError naming the node.
func Dial(ctx context.Context, cfg Config) (*Transport, error) {
	ep, err := cfg.resolve()
	if err != nil {
		return nil, &transport.UnreachableError{Host: nodeName(cfg), Err: err}
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = DefaultMaxSessions
	}
	if cfg.KillGrace <= 0 {
		cfg.KillGrace = DefaultKillGrace
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = DefaultKeepAlive
	}
	if cfg.KeepAliveMax <= 0 {
		cfg.KeepAliveMax = DefaultKeepAliveMax
	}
	ep.cfg = &cfg
	for i := range ep.jumps {
		ep.jumps[i].cfg = &cfg
	}
	t := &Transport{
		cfg:      cfg,
		ep:       ep,
		label:    cfg.label(ep),
		lock:     make(chan struct{}, 1),
		sessions: newSessionLimit(cfg.MaxSessions),
		closed:   make(chan struct{}),
	}
	if _, err := t.conn(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

func nodeName(cfg Config) string {
	if cfg.Name != "" {
		return cfg.Name
	}
	return cfg.Host
}

// Name is how messages name the node: "web1 (deploy@10.0.0.5:22)".
func (t *Transport) Name() string { return t.label }

// conn returns the live connection, opening a new one when there is none or
// the last one died.
func (t *Transport) conn(ctx context.Context) (*conn, error) {
	select {
	case t.lock <- struct{}{}:
	case <-t.closed:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-t.lock }()
	select {
	case <-t.closed:
		return nil, ErrClosed
	default:
	}
	if t.cur != nil && t.cur.alive() {
		return t.cur, nil
	}
	ch, err := connect(ctx, t.ep)
	if err != nil {
		return nil, &transport.UnreachableError{Host: t.label, Err: err}
	}
	c := &conn{ch: ch, done: make(chan struct{})}
	go func() {
		err := ch.client.Wait()
		c.end(err)
		ch.close()
		close(c.done)
	}()
	if t.cfg.KeepAlive > 0 {
		go c.keepAlive(t.cfg.KeepAlive, t.cfg.KeepAliveMax)
	}
	t.cur = c
	return c, nil
}

func (c *conn) alive() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// end records why the connection ended (first reason wins) and closes it.
func (c *conn) end(why error) {
	c.mu.Lock()
	if c.why == nil && why != nil {
		c.why = why
	}
	c.mu.Unlock()
	c.ch.client.Close()
}

func (c *conn) reason() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.why == nil {
		return errors.New("connection closed")
	}
	return c.why
}

// keepAlive sends keepalive@openssh.com every interval. OpenSSH answers it
// (with a failure: any reply proves the peer alive). A peer that has answered
// nothing for max intervals is declared dead and the connection closed, so
// waiting commands fail instead of hanging on a vanished host: the deadline
// runs from the last answer, so a peer that freezes is noticed within
// interval × max of its last sign of life (OpenSSH's ServerAliveInterval ×
// ServerAliveCountMax), not one interval later.
func (c *conn) keepAlive(interval time.Duration, max int) {
	window := interval * time.Duration(max)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	dead := time.NewTimer(window)
	defer dead.Stop()
	replies := make(chan error, 1) // one request outstanding at a time
	waiting := false
	for {
		select {
		case <-c.done:
			return
		case <-tick.C:
			if !waiting {
				waiting = true
				go func() {
					_, _, err := c.ch.client.SendRequest("keepalive@openssh.com", true, nil)
					replies <- err
				}()
			}
		case err := <-replies:
			waiting = false
			if err != nil {
				c.end(fmt.Errorf("keepalive failed: %w", err))
				return
			}
			dead.Reset(window)
		case <-dead.C:
			c.end(fmt.Errorf("peer did not answer keepalives for %v (keepAlive %v x keepAliveCount %d)", window, interval, max))
			return
		}
	}
}

// Dial opens a connection from the node: "tcp" through direct-tcpip, "unix"
// through OpenSSH's direct-streamlocal@openssh.com (needs
// AllowStreamLocalForwarding on the server, the default).
func (t *Transport) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	for attempt := 0; ; attempt++ {
		c, err := t.conn(ctx)
		if err != nil {
			return nil, err
		}
		nc, err := c.ch.client.DialContext(ctx, network, addr)
		if err == nil {
			return nc, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var refused *ssh.OpenChannelError
		if errors.As(err, &refused) || c.alive() || attempt > 0 {
			return nil, fmt.Errorf("%s: dialing %s %s from the node: %w", t.label, network, addr, err)
		}
		// The connection died since the last use: reconnect once.
	}
}

// Close closes the connection. The Transport cannot be used afterwards.
func (t *Transport) Close() error {
	t.closeOnce.Do(func() {
		close(t.closed)
		t.lock <- struct{}{}
		if t.cur != nil {
			t.cur.end(ErrClosed)
			<-t.cur.done
		}
		<-t.lock
	})
	return nil
}
