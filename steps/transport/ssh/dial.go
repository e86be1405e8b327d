package ssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// chain is an authenticated client and the jump-host clients it rides on.
type chain struct {
	client *ssh.Client
	jumps  []*ssh.Client // outermost first
	// releases, when the jumps are shared (Config.Jumps), let go of them
	// instead of closing them.
	releases []func()
}

func (c *chain) close() {
	if c.client != nil {
		c.client.Close()
	}
	c.closeJumps()
}

func (c *chain) closeJumps() {
	for i := len(c.jumps) - 1; i >= 0; i-- {
		if c.releases != nil {
			c.releases[i]()
		} else {
			c.jumps[i].Close()
		}
	}
}

// connect reaches e, through its jump hosts if any, each hop with its own
// timeout covering TCP connect, handshake and authentication. A hop the
// server dropped before its banner (MaxStartups) is tried again after a
// backoff: see hopRetrying.
func connect(ctx context.Context, e endpoint) (*chain, error) {
	ch := &chain{}
	shared := e.cfg != nil && e.cfg.Jumps != nil
	var via *ssh.Client
	for i, j := range e.jumps {
		var c *ssh.Client
		var err error
		if shared {
			var release func()
			from := via
			c, release, err = e.cfg.Jumps.get(ctx, jumpKey(e.jumps[:i+1]), func(ctx context.Context) (*ssh.Client, error) {
				return hopRetrying(ctx, from, j)
			})
			if err == nil {
				ch.releases = append(ch.releases, release)
			}
		} else {
			c, err = hopRetrying(ctx, via, j)
		}
		if err != nil {
			ch.closeJumps()
			return nil, fmt.Errorf("via jump host %s: %w", j, err)
		}
		ch.jumps = append(ch.jumps, c)
		via = c
	}
	c, err := hopRetrying(ctx, via, e)
	if err != nil {
		ch.closeJumps()
		return nil, err
	}
	ch.client = c
	return ch, nil
}

// Retrying a handshake the server refused before its banner.
const (
	DefaultRefusedPatience = time.Minute
	refusedBackoffMin      = 100 * time.Millisecond
	refusedBackoffMax      = 2 * time.Second
)

// errRefused marks a handshake the server ended before its SSH banner:
// sshd's MaxStartups (or a bastion's limit) dropping a connection it has no
// room for. Nothing was sent to the node, so trying again is safe.
var errRefused = errors.New("the server closed the connection before its banner (MaxStartups?)")

// hopRetrying is hop, tried again with exponential backoff and jitter while
// the server refuses the handshake before its banner, for up to
// Config.RefusedPatience. Config.OnRefused hears of each retry.
func hopRetrying(ctx context.Context, via *ssh.Client, e endpoint) (*ssh.Client, error) {
	patience := e.cfg.RefusedPatience
	if patience == 0 {
		patience = DefaultRefusedPatience
	}
	start := time.Now()
	backoff := refusedBackoffMin
	for attempt := 1; ; attempt++ {
		c, err := hop(ctx, via, e)
		if err == nil || !errors.Is(err, errRefused) || ctx.Err() != nil {
			return c, err
		}
		if time.Since(start) >= patience {
			return nil, fmt.Errorf("%w (%d tries in %v)", err, attempt, time.Since(start).Round(time.Second))
		}
		if e.cfg.OnRefused != nil {
			e.cfg.OnRefused(err)
		}
		// Jitter: nodes refused at once must not come back in step.
		wait := backoff/2 + time.Duration(rand.Int64N(int64(backoff)))
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w; gave up: %w", err, ctx.Err())
		case <-time.After(wait):
		}
		backoff = min(2*backoff, refusedBackoffMax)
	}
}

// hop opens the transport to e (directly, or through via) and logs in.
func hop(ctx context.Context, via *ssh.Client, e endpoint) (*ssh.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	var raw net.Conn
	var err error
	if via == nil {
		var d net.Dialer
		raw, err = d.DialContext(ctx, "tcp", e.addr())
	} else {
		raw, err = via.DialContext(ctx, "tcp", e.addr())
	}
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", e.addr(), timeoutCause(ctx, err, e))
	}
	keys, err := e.cfg.HostKeys.load(e.knownHosts, e.cfg.TrustOnFirstUse)
	if err != nil {
		raw.Close()
		return nil, err
	}
	creds, err := loadCredentials(e)
	if err != nil {
		raw.Close()
		return nil, err
	}
	defer creds.close()
	counted := &bannerConn{Conn: raw}
	algs := keys.algorithms(e.addr())
	conf := &ssh.ClientConfig{
		User:              e.user,
		Auth:              []ssh.AuthMethod{creds.authMethod()},
		HostKeyCallback:   keys.check,
		HostKeyAlgorithms: algs,
	}
	// x/crypto's Timeout covers only the TCP connect; closing the socket is
	// what bounds a server that accepts and then never speaks.
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			raw.Close()
		case <-done:
		}
	}()
	conn, chans, reqs, err := ssh.NewClientConn(counted, e.addr(), conf)
	close(done)
	if err != nil {
		raw.Close()
		if ctx.Err() == nil && !counted.sawBanner() && droppedBeforeBanner(err) {
			return nil, fmt.Errorf("ssh handshake with %s: %w: %w", e.addr(), errRefused, err)
		}
		return nil, describeHandshake(ctx, err, e, algs, creds)
	}
	return ssh.NewClient(conn, chans, reqs), nil
}

// bannerConn keeps the first bytes the server sent, to tell a server that
// dropped the connection before its SSH banner (sshd writes "Exceeded
// MaxStartups" and closes) from one that failed later in the handshake.
type bannerConn struct {
	net.Conn
	mu   sync.Mutex
	head []byte
}

const bannerHead = 512

func (c *bannerConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	if room := bannerHead - len(c.head); room > 0 {
		c.head = append(c.head, p[:min(n, room)]...)
	}
	c.mu.Unlock()
	return n, err
}

func (c *bannerConn) sawBanner() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.HasPrefix(c.head, []byte("SSH-")) || bytes.Contains(c.head, []byte("\nSSH-")) ||
		len(c.head) == bannerHead
}

func droppedBeforeBanner(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// describeHandshake turns x/crypto's handshake errors into what the
// operator needs to act on.
func describeHandshake(ctx context.Context, err error, e endpoint, algs []string, creds *credentials) error {
	var unknown *HostKeyUnknownError
	var changed *HostKeyChangedError
	switch {
	case errors.As(err, &unknown), errors.As(err, &changed):
		return err
	case ctx.Err() != nil:
		return fmt.Errorf("ssh handshake with %s: %w", e.addr(), timeoutCause(ctx, err, e))
	case strings.Contains(err.Error(), "unable to authenticate"):
		return fmt.Errorf("authentication as %s on %s failed (offered %s): %w", e.user, e.addr(), creds.describe(), err)
	case len(algs) > 0 && strings.Contains(err.Error(), "no common algorithm for host key"):
		return fmt.Errorf("%s offers none of the host key types known_hosts holds for it (%s): "+
			"its host keys changed or known_hosts is out of date: %w", e.addr(), strings.Join(algs, ", "), err)
	}
	return fmt.Errorf("ssh handshake with %s: %w", e.addr(), err)
}

// timeoutCause says "timed out after Ns" when the hop's own deadline fired,
// rather than the bare "use of closed network connection".
func timeoutCause(ctx context.Context, err error, e endpoint) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("timed out after %v (ConnectTimeout): %w", e.timeout, context.DeadlineExceeded)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
