package ssh

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyUnknownError: known_hosts has no key for the host and
// trust-on-first-use is off.
type HostKeyUnknownError struct {
	Host  string // as known_hosts spells it, e.g. [10.0.0.5]:2222
	Key   ssh.PublicKey
	Files []string
}

func (e *HostKeyUnknownError) Error() string {
	return fmt.Sprintf("host key of %s (%s %s) is not in known_hosts (%s): check the fingerprint and add it "+
		"(ssh-keyscan %s >> %s), or enable trust-on-first-use for this inventory",
		e.Host, e.Key.Type(), ssh.FingerprintSHA256(e.Key), strings.Join(e.Files, ", "),
		keyscanArgs(e.Host), e.Files[0])
}

// HostKeyChangedError: the host offered a key other than the one recorded.
// It may be a man-in-the-middle; zdu never accepts it, with or without
// trust-on-first-use.
type HostKeyChangedError struct {
	Host  string
	Key   ssh.PublicKey
	Known []knownhosts.KnownKey
}

func (e *HostKeyChangedError) Error() string {
	k := e.Known[0]
	return fmt.Sprintf("HOST KEY CHANGED for %s: it offered %s %s but %s:%d records %s %s; "+
		"this may be a man-in-the-middle attack. If the change is expected, remove the old key "+
		"(ssh-keygen -R '%s' -f %s) and verify the new one",
		e.Host, e.Key.Type(), ssh.FingerprintSHA256(e.Key), k.Filename, k.Line,
		k.Key.Type(), ssh.FingerprintSHA256(k.Key), e.Host, k.Filename)
}

// hostKeys checks host keys against known_hosts files read at dial time, so
// a key recorded by trust-on-first-use is seen by the next reconnection.
type hostKeys struct {
	files []string // as configured; the first receives trust-on-first-use keys
	tofu  bool
	db    ssh.HostKeyCallback
}

func loadHostKeys(files []string, tofu bool) (*hostKeys, error) {
	var existing []string
	for _, f := range files {
		if fileExists(f) {
			existing = append(existing, f)
		}
	}
	db, err := knownhosts.New(existing...)
	if err != nil {
		return nil, fmt.Errorf("reading known_hosts: %w", err)
	}
	return &hostKeys{files: files, tofu: tofu, db: db}, nil
}

// probeKey matches no real host key: asking the database about it returns
// every key it holds for a host.
var probeKey, _ = ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))

// algorithms lists the host key algorithms known_hosts holds for hostport,
// to offer only those: a server with ed25519, ecdsa and rsa keys would
// otherwise pick one that an ed25519-only known_hosts cannot confirm. Nil
// means the host is unknown: offer the defaults.
func (h *hostKeys) algorithms(hostport string) []string {
	err := h.db(hostport, &net.TCPAddr{IP: net.IPv4zero}, probeKey)
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) {
		return nil
	}
	var algs []string
	seen := map[string]bool{}
	for _, k := range ke.Want {
		names := []string{k.Key.Type()}
		if k.Key.Type() == ssh.KeyAlgoRSA {
			names = []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
		}
		for _, n := range names {
			if !seen[n] {
				seen[n] = true
				algs = append(algs, n)
			}
		}
	}
	return algs
}

// check is the ssh.HostKeyCallback.
func (h *hostKeys) check(hostport string, remote net.Addr, key ssh.PublicKey) error {
	err := h.db(hostport, remote, key)
	if err == nil {
		return nil
	}
	host := knownhosts.Normalize(hostport)
	var ke *knownhosts.KeyError
	var re *knownhosts.RevokedError
	switch {
	case errors.As(err, &ke) && len(ke.Want) > 0:
		return &HostKeyChangedError{Host: host, Key: key, Known: ke.Want}
	case errors.As(err, &ke) && h.tofu:
		return h.record(host, key)
	case errors.As(err, &ke):
		return &HostKeyUnknownError{Host: host, Key: key, Files: h.files}
	case errors.As(err, &re):
		return fmt.Errorf("host key of %s is marked @revoked in %s:%d", host, re.Revoked.Filename, re.Revoked.Line)
	}
	return fmt.Errorf("checking host key of %s: %w", host, err)
}

// record appends host's key to the first known_hosts file. flock keeps
// concurrent zdu processes (and parallel preflight dials) from interleaving.
func (h *hostKeys) record(host string, key ssh.PublicKey) error {
	path := h.files[0]
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("trust-on-first-use for %s: %w", host, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("trust-on-first-use for %s: %w", host, err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("trust-on-first-use for %s: locking %s: %w", host, path, err)
	}
	line := knownhosts.Line([]string{host}, key) + "\n"
	if _, err := f.WriteString(line); err != nil {
		return fmt.Errorf("trust-on-first-use for %s: writing %s: %w", host, path, err)
	}
	return nil
}

// keyscanArgs turns "[h]:p" back into "-p p h" for the hint in errors.
func keyscanArgs(host string) string {
	if h, p, err := net.SplitHostPort(host); err == nil && strings.HasPrefix(host, "[") {
		return "-p " + p + " " + h
	}
	return host
}

// HostKeyCache keeps known_hosts files parsed between dials: a fleet's
// known_hosts has a line per node, and parsing it again for each of
// thousands of dials made the preflight quadratic. A file that changed
// (size or modification time: trust-on-first-use appends to it, the
// operator edits it) is read again. The zero value is ready to use.
type HostKeyCache struct {
	mu      sync.Mutex
	entries map[string]*cachedHostKeys
}

type cachedHostKeys struct {
	stamp string
	db    ssh.HostKeyCallback
}

// load is loadHostKeys through the cache (c nil: no cache).
func (c *HostKeyCache) load(files []string, tofu bool) (*hostKeys, error) {
	if c == nil {
		return loadHostKeys(files, tofu)
	}
	var key, stamp strings.Builder
	var existing []string
	for _, f := range files {
		key.WriteString(f + "\x00")
		st, err := os.Stat(f)
		if err != nil {
			continue
		}
		existing = append(existing, f)
		fmt.Fprintf(&stamp, "%s:%d:%d\x00", f, st.Size(), st.ModTime().UnixNano())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key.String()]; ok && e.stamp == stamp.String() {
		return &hostKeys{files: files, tofu: tofu, db: e.db}, nil
	}
	db, err := knownhosts.New(existing...)
	if err != nil {
		return nil, fmt.Errorf("reading known_hosts: %w", err)
	}
	if c.entries == nil {
		c.entries = map[string]*cachedHostKeys{}
	}
	c.entries[key.String()] = &cachedHostKeys{stamp: stamp.String(), db: db}
	return &hostKeys{files: files, tofu: tofu, db: db}, nil
}
