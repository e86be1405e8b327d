// Package haproxy is the HAProxy load balancer driver and its runtime API
// client. The client speaks the stats socket's non-interactive mode (one
// command per connection, the answer ends when HAProxy closes it) over a unix
// socket or a TCP address, reached from the control node or through another
// node's transport. The driver drains and enables a server on every instance
// of a logical load balancer with it.
package haproxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// DefaultIOTimeout bounds one command's round trip when the caller's context
// has no sooner deadline, so a wedged socket cannot hang a step forever.
const DefaultIOTimeout = 15 * time.Second

// maxAnswer bounds an answer; `show stat` on a large HAProxy is far below it.
const maxAnswer = 16 << 20

// DialFunc opens a connection to the runtime API.
type DialFunc func(ctx context.Context) (net.Conn, error)

// Client sends runtime API commands to one HAProxy instance.
type Client struct {
	// Name describes the socket in every error, e.g.
	// "haproxy lb1 (unix:/run/haproxy/admin.sock via haproxy-1)".
	Name string
	Dial DialFunc
}

// NewClient returns a client for network ("unix" or "tcp") and addr, dialled
// with dial (e.g. a transport's Dial).
func NewClient(name, network, addr string, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *Client {
	return &Client{Name: name, Dial: func(ctx context.Context) (net.Conn, error) { return dial(ctx, network, addr) }}
}

// Do sends one command line and returns HAProxy's answer with the trailing
// blank line removed. An answer is not checked: callers that know what a
// command prints on success use Exec.
func (c *Client) Do(ctx context.Context, line string) (string, error) {
	if strings.ContainsAny(line, "\n\r") {
		return "", fmt.Errorf("%s: command %q spans several lines; send one command per line", c.Name, line)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultIOTimeout)
		defer cancel()
	}
	conn, err := c.Dial(ctx)
	if err != nil {
		return "", fmt.Errorf("%s: connecting: %w", c.Name, err)
	}
	defer conn.Close()
	// Closing the connection is the only way to interrupt a blocked read on
	// every kind of net.Conn (an SSH channel has no deadlines).
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := io.WriteString(conn, line+"\n"); err != nil {
		return "", c.ioErr(ctx, "sending "+quoteLine(line), err)
	}
	b, err := io.ReadAll(io.LimitReader(bufio.NewReader(conn), maxAnswer))
	if err != nil {
		return "", c.ioErr(ctx, "reading the answer to "+quoteLine(line), err)
	}
	return strings.TrimRight(string(b), "\n"), nil
}

func (c *Client) ioErr(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		err = ctx.Err()
	}
	return fmt.Errorf("%s: %s: %w", c.Name, what, err)
}

// Exec sends a command that prints nothing on success (set server, set
// weight, shutdown sessions ...). Any answer is HAProxy's error message.
func (c *Client) Exec(ctx context.Context, line string) error {
	ans, err := c.Do(ctx, line)
	if err != nil {
		return err
	}
	if strings.TrimSpace(ans) != "" {
		return &CommandError{Socket: c.Name, Line: line, Answer: strings.TrimSpace(ans)}
	}
	return nil
}

// CommandError is HAProxy refusing a command.
type CommandError struct {
	Socket, Line, Answer string
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("%s: %s: haproxy answered %q", e.Socket, quoteLine(e.Line), e.Answer)
}

// Levels of the runtime API, weakest first.
var levels = []string{"user", "operator", "admin"}

// ErrLevel means the socket's level is too low for what zdu must do.
var ErrLevel = errors.New("haproxy socket level too low")

// Level asks the socket its level (`show cli level`): user, operator or admin.
func (c *Client) Level(ctx context.Context) (string, error) {
	ans, err := c.Do(ctx, "show cli level")
	if err != nil {
		return "", err
	}
	lv := strings.TrimSpace(ans)
	for _, l := range levels {
		if lv == l {
			return lv, nil
		}
	}
	return "", fmt.Errorf("%s: `show cli level` answered %q, not a level (HAProxy older than 2.0?)", c.Name, lv)
}

// RequireLevel fails with ErrLevel, naming the socket, when its level is
// below min.
func (c *Client) RequireLevel(ctx context.Context, min string) error {
	lv, err := c.Level(ctx)
	if err != nil {
		return err
	}
	if rank(lv) < rank(min) {
		return fmt.Errorf("%w: %s is at level %q, zdu needs %q: add `level %s` to its `stats socket` line in haproxy.cfg",
			ErrLevel, c.Name, lv, min, min)
	}
	return nil
}

func rank(level string) int {
	for i, l := range levels {
		if l == level {
			return i
		}
	}
	return -1
}

// ValidLevel reports whether s is a runtime API level name.
func ValidLevel(s string) bool { return rank(s) >= 0 }

// Weight is a server's weight as `get weight` reports it.
type Weight struct{ Current, Initial int }

// GetWeight reads backend/server's current and initial weight.
func (c *Client) GetWeight(ctx context.Context, backend, server string) (Weight, error) {
	line := "get weight " + backend + "/" + server
	ans, err := c.Do(ctx, line)
	if err != nil {
		return Weight{}, err
	}
	w, err := ParseWeight(ans)
	if err != nil {
		return Weight{}, &CommandError{Socket: c.Name, Line: line, Answer: strings.TrimSpace(ans)}
	}
	return w, nil
}

// ParseWeight parses `get weight`'s answer, "1 (initial 1)".
func ParseWeight(ans string) (Weight, error) {
	var w Weight
	if _, err := fmt.Sscanf(strings.TrimSpace(ans), "%d (initial %d)", &w.Current, &w.Initial); err != nil {
		return Weight{}, fmt.Errorf("unexpected `get weight` answer %q", ans)
	}
	return w, nil
}

func quoteLine(line string) string { return "`" + line + "`" }
