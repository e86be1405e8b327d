package ssh

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/steps/transport"
	"github.com/zdu-dev/zdu/steps/transport/ssh/sshtest"
)

// holdStartup opens a TCP connection to srv and says nothing: to sshd it is
// an unauthenticated connection, one of the MaxStartups it allows. The
// harness's own banner check may still hold the slot for a moment: try
// until sshd answers with its banner.
func holdStartup(t *testing.T, srv *sshtest.Server) net.Conn {
	t.Helper()
	for attempt := 0; attempt < 100; attempt++ {
		c, err := net.Dial("tcp", srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err == nil && string(buf) == "SSH-" {
			t.Cleanup(func() { c.Close() })
			return c
		}
		c.Close()
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("sshd never gave the held connection its banner")
	return nil
}

// With MaxStartups 1 taken by a silent connection, sshd drops every new
// one before its banner. Dial tries again after a backoff; once the slot is
// free (the test frees it on the first refusal), it gets in.
func TestDialRetriesHandshakeRefusedByMaxStartups(t *testing.T) {
	srv := sshtest.Start(t, sshtest.WithConfig("MaxStartups 1"))
	held := holdStartup(t, srv)
	cfg := nodeConfig(srv)
	var mu sync.Mutex
	var refusals []error
	cfg.OnRefused = func(err error) {
		mu.Lock()
		defer mu.Unlock()
		refusals = append(refusals, err)
		held.Close()
	}
	tr := dialT(t, cfg)
	runT(t, tr, "true")
	mu.Lock()
	defer mu.Unlock()
	if len(refusals) == 0 {
		t.Fatal("no handshake was refused: the test did not take sshd's only startup slot")
	}
	if !errors.Is(refusals[0], errRefused) {
		t.Fatalf("refusal %v, want errRefused", refusals[0])
	}
}

// Without retries the refusal is reported as such, naming the node.
func TestDialRefusedWithoutRetries(t *testing.T) {
	srv := sshtest.Start(t, sshtest.WithConfig("MaxStartups 1"))
	holdStartup(t, srv)
	cfg := nodeConfig(srv)
	cfg.RefusedPatience = -1
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := Dial(ctx, cfg)
	if !errors.Is(err, transport.ErrUnreachable) || !errors.Is(err, errRefused) ||
		!strings.Contains(err.Error(), "node (") || !strings.Contains(err.Error(), "MaxStartups") {
		t.Fatalf("Dial: %v, want an unreachable node refused before the banner", err)
	}
}
