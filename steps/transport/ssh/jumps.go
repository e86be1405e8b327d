package ssh

import (
	"context"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
)

// Jumps shares jump-host connections between the nodes that go through the
// same chain of jump hosts: a thousand nodes behind one bastion make one
// connection to it, each node's connection a forwarded channel on it, rather
// than a thousand logins that would trip the bastion's MaxStartups. A jump
// connection is closed when the last node using it lets go of it, and opened
// again when it died. The zero value is not usable: see NewJumps.
type Jumps struct {
	mu sync.Mutex
	m  map[string]*jumpEntry
}

type jumpEntry struct {
	client  *ssh.Client
	refs    int
	dialing chan struct{} // closed when the dial in flight ends
	err     error
	dead    chan struct{} // closed when client's connection ended
}

// NewJumps returns an empty set of shared jump connections.
func NewJumps() *Jumps { return &Jumps{m: map[string]*jumpEntry{}} }

// Open returns the number of jump connections open (for tests and reports).
func (j *Jumps) Open() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	n := 0
	for _, e := range j.m {
		if e.client != nil {
			n++
		}
	}
	return n
}

// jumpKey names a chain of hops up to and including the last of hops, with
// how each logs in: nodes share a jump connection only when they would have
// opened the same one.
func jumpKey(hops []endpoint) string {
	var b strings.Builder
	for _, h := range hops {
		b.WriteString(h.String())
		b.WriteByte('|')
		b.WriteString(strings.Join(h.identities, ":"))
		b.WriteByte('|')
		b.WriteString(strings.Join(h.knownHosts, ":"))
		b.WriteByte(',')
	}
	return b.String()
}

// get returns the shared client for key, opening it with open when there is
// none alive, and a release to call when the node's connection ends. One
// dial serves every node waiting for it; each waits within its own ctx.
func (j *Jumps) get(ctx context.Context, key string, open func(context.Context) (*ssh.Client, error)) (*ssh.Client, func(), error) {
	j.mu.Lock()
	for {
		e := j.m[key]
		if e != nil && e.client != nil && !closed(e.dead) {
			e.refs++
			j.mu.Unlock()
			return e.client, j.releaser(key, e), nil
		}
		if e != nil && e.dialing != nil {
			ch := e.dialing
			j.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			}
			j.mu.Lock()
			if e.client == nil && e.err != nil {
				err := e.err
				j.mu.Unlock()
				return nil, nil, err
			}
			continue
		}
		// None, or a dead one: nodes still holding a dead client keep
		// their entry; a fresh one takes the key.
		e = &jumpEntry{dialing: make(chan struct{})}
		j.m[key] = e
		j.mu.Unlock()
		// The dial serves other nodes too: one node's cancel must not fail
		// theirs (each hop has its own ConnectTimeout).
		c, err := open(context.WithoutCancel(ctx))
		j.mu.Lock()
		close(e.dialing)
		e.dialing = nil
		if err != nil {
			e.err = err
			if j.m[key] == e {
				delete(j.m, key)
			}
			j.mu.Unlock()
			return nil, nil, err
		}
		e.client = c
		e.dead = make(chan struct{})
		go func() {
			_ = c.Wait()
			close(e.dead)
		}()
		continue
	}
}

func (j *Jumps) releaser(key string, e *jumpEntry) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			j.mu.Lock()
			e.refs--
			last := e.refs == 0
			if last && j.m[key] == e {
				delete(j.m, key)
			}
			j.mu.Unlock()
			if last {
				e.client.Close()
			}
		})
	}
}

func closed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
