package ssh

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/zdu-dev/zdu/steps/transport"
)

// Run runs cmd on the node. The command runs in a process group of its own
// there, whose id the wrapper reports first thing on stderr; when ctx ends,
// a second session kills that group (TERM, then KILL after KillGrace). Doing
// the kill on the node is the only reliable way: closing the session leaves
// the command running, and OpenSSH refuses signal requests on root sessions.
func (t *Transport) Run(ctx context.Context, cmd transport.Command) (transport.Result, error) {
	fail := transport.Result{ExitCode: -1}
	if err := ctx.Err(); err != nil {
		return fail, err
	}
	token, err := newToken()
	if err != nil {
		return fail, err
	}
	if err := t.sessions.acquire(ctx); err != nil {
		return fail, err
	}
	defer t.sessions.release()
	c, sess, err := t.session(ctx)
	if err != nil {
		return fail, err
	}
	defer sess.Close()

	var streamMu sync.Mutex // cmd.Stdout and cmd.Stderr are often one node log
	stdout := &transport.LimitedBuffer{Max: transport.MaxOutput}
	stderr := &transport.LimitedBuffer{Max: transport.MaxOutput}
	sess.Stdout = &stream{keep: stdout, to: cmd.Stdout, mu: &streamMu}
	pg := newPgidFilter(token, &stream{keep: stderr, to: cmd.Stderr, mu: &streamMu})
	sess.Stderr = pg
	if cmd.Stdin != nil {
		// Copy stdin ourselves: x/crypto's Wait would wait for a reader that
		// never reaches EOF even after the command is gone.
		w, err := sess.StdinPipe()
		if err != nil {
			return fail, fmt.Errorf("%s: stdin: %w", t.label, err)
		}
		go func() {
			_, _ = io.Copy(w, cmd.Stdin)
			w.Close()
		}()
	}
	if err := sess.Start(wrap(transport.Script(cmd), token, c.leads.Load())); err != nil {
		return fail, t.lost(c, "starting command", err)
	}
	var werr error
	waited := make(chan struct{}) // closed once Wait returned and output is copied
	go func() {
		werr = sess.Wait()
		close(waited)
	}()

	select {
	case <-waited:
	case <-ctx.Done():
		kerr := t.kill(c, pg, waited, cmd.Become)
		// Closing the channel ends Wait even if the command could not be
		// killed; only then is the output safe to read.
		sess.Close()
		select {
		case <-waited:
		case <-time.After(5 * time.Second):
			return fail, fmt.Errorf("%w; %s: the session did not close", ctx.Err(), t.label)
		}
		pg.flush()
		res := result(stdout, stderr, -1)
		if kerr != nil {
			return res, fmt.Errorf("%w; %s: the command may still run on the node: %v", ctx.Err(), t.label, kerr)
		}
		return res, ctx.Err()
	}
	pg.flush()
	if pg.leads {
		c.leads.Store(true) // later commands skip the group check
	}
	var exit *ssh.ExitError
	switch {
	case werr == nil:
		return result(stdout, stderr, 0), nil
	case errors.As(werr, &exit) && exit.Signal() != "":
		return result(stdout, stderr, 128+signalNumber(exit.Signal())), nil
	case errors.As(werr, &exit):
		return result(stdout, stderr, exit.ExitStatus()), nil
	}
	return result(stdout, stderr, -1), t.lost(c, "running command", werr)
}

// refusalPatience is how long session keeps retrying a server that refuses
// every new session.
const refusalPatience = 30 * time.Second

// session opens a session, retrying while the server refuses the channel
// (its MaxSessions is shared with other clients) and reconnecting once if
// the connection died since the last command.
func (t *Transport) session(ctx context.Context) (*conn, *ssh.Session, error) {
	backoff := 10 * time.Millisecond
	reconnected := false
	var refusedSince time.Time
	for {
		c, err := t.conn(ctx)
		if err != nil {
			return nil, nil, err
		}
		sess, err := c.ch.client.NewSession()
		if err == nil {
			return c, sess, nil
		}
		var refused *ssh.OpenChannelError
		switch {
		case errors.As(err, &refused):
			t.sessions.refused()
			if refusedSince.IsZero() {
				refusedSince = time.Now()
			} else if time.Since(refusedSince) > refusalPatience {
				return nil, nil, fmt.Errorf("%s: the server refused new sessions for %v (its MaxSessions?): %w",
					t.label, refusalPatience, err)
			}
			select {
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 200*time.Millisecond)
		case !reconnected:
			// Nothing ran yet, so reconnecting is safe.
			reconnected = true
			c.end(err)
			<-c.done
		default:
			return nil, nil, t.lost(c, "opening a session", err)
		}
	}
}

// lost explains a connection failure, with the keepalive's reason if any.
func (t *Transport) lost(c *conn, doing string, err error) error {
	// end records the reason before the connection is marked dead: read it
	// first, or a keepalive timeout shows as a bare EOF in that gap.
	c.mu.Lock()
	why := c.why
	c.mu.Unlock()
	switch {
	case why != nil:
		err = why
	case !c.alive():
		err = c.reason()
	}
	return fmt.Errorf("%s: %s: %w: %w", t.label, doing, ErrConnectionLost, err)
}

// kill ends the command's process group on the node and waits (bounded)
// for the session to finish.
func (t *Transport) kill(c *conn, pg *pgidFilter, waited <-chan struct{}, become bool) error {
	grace := t.cfg.KillGrace
	var pgid int
	select {
	case pgid = <-pg.found:
	case <-waited:
		return nil // ended on its own meanwhile
	case <-time.After(grace):
		return errors.New("the command never reported its process group")
	}
	if !c.alive() {
		return fmt.Errorf("connection lost, cannot kill process group %d: %w", pgid, c.reason())
	}
	sess, err := c.ch.client.NewSession()
	for tries := 0; err != nil && tries < 10; tries++ {
		var refused *ssh.OpenChannelError
		if !errors.As(err, &refused) {
			break
		}
		time.Sleep(50 * time.Millisecond)
		sess, err = c.ch.client.NewSession()
	}
	if err != nil {
		return fmt.Errorf("opening a session to kill process group %d: %w", pgid, err)
	}
	defer sess.Close()
	done := make(chan error, 1)
	go func() { done <- sess.Run(killScript(pgid, grace, become)) }()
	select {
	case err = <-done:
	case <-time.After(grace + 10*time.Second):
		err = errors.New("kill command did not finish")
	}
	if err != nil {
		return fmt.Errorf("killing process group %d: %w", pgid, err)
	}
	select {
	case <-waited:
	case <-time.After(grace):
	}
	return nil
}

func result(stdout, stderr *transport.LimitedBuffer, code int) transport.Result {
	return transport.Result{
		ExitCode:  code,
		Stdout:    stdout.Bytes(),
		Stderr:    stderr.Bytes(),
		Truncated: stdout.Truncated || stderr.Truncated,
	}
}

// stream keeps a bounded copy and forwards to the node log.
type stream struct {
	keep *transport.LimitedBuffer
	to   io.Writer
	mu   *sync.Mutex
}

func (s *stream) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keep.Write(p)
	if s.to != nil {
		// A failing node log must not fail the command.
		_, _ = s.to.Write(p)
	}
	return len(p), nil
}

func newToken() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

var signals = map[string]int{"HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "ABRT": 6, "FPE": 8,
	"KILL": 9, "SEGV": 11, "PIPE": 13, "ALRM": 14, "TERM": 15, "USR1": 10, "USR2": 12}

func signalNumber(name string) int {
	if n, ok := signals[name]; ok {
		return n
	}
	return 0
}
