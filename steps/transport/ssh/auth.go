package ssh

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// credentials are the keys offered for one login, and what was tried, for
// the message when the server refuses them all.
type credentials struct {
	signers []ssh.Signer
	tried   []string
	agent   net.Conn // closed once the handshake is over
}

func (c *credentials) close() {
	if c.agent != nil {
		c.agent.Close()
	}
}

func (c *credentials) describe() string {
	if len(c.tried) == 0 {
		return "no keys"
	}
	return strings.Join(c.tried, ", ")
}

// loadCredentials gathers the identity files, then the agent's keys. A
// passphrase-protected file is an error naming it, unless the agent already
// holds that key (the usual way to use such a key non-interactively).
func loadCredentials(e endpoint) (*credentials, error) {
	c := &credentials{}
	var agentKeys []*agent.Key
	var agentSigners []ssh.Signer
	var agentErr error
	if e.cfg.Agent {
		agentKeys, agentSigners, agentErr = c.openAgent(e.agentSock)
	}
	seen := map[string]bool{}
	add := func(s ssh.Signer) {
		k := string(s.PublicKey().Marshal())
		if !seen[k] {
			seen[k] = true
			c.signers = append(c.signers, s)
		}
	}
	for _, path := range e.identities {
		pem, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) && !e.explicit {
			continue // a default key the operator never created
		}
		if err != nil {
			c.close()
			return nil, fmt.Errorf("identity file: %w", err)
		}
		signer, err := ssh.ParsePrivateKey(pem)
		var pm *ssh.PassphraseMissingError
		if errors.As(err, &pm) {
			if pm.PublicKey != nil && agentHolds(agentKeys, pm.PublicKey) {
				continue
			}
			c.close()
			return nil, fmt.Errorf("identity file %s is protected by a passphrase and zdu does not prompt: "+
				"load it into ssh-agent (ssh-add %s) and enable the agent, or use an unencrypted deploy key", path, path)
		}
		if err != nil {
			c.close()
			return nil, fmt.Errorf("identity file %s: %w", path, err)
		}
		add(signer)
		c.tried = append(c.tried, path)
	}
	for _, s := range agentSigners {
		add(s)
	}
	if len(agentSigners) > 0 {
		c.tried = append(c.tried, fmt.Sprintf("%d key(s) from ssh-agent %s", len(agentSigners), e.agentSock))
	}
	if len(c.signers) == 0 {
		c.close()
		why := fmt.Sprintf("no usable key for %s: identity files %s not found", e, strings.Join(e.identities, ", "))
		switch {
		case !e.cfg.Agent:
			why += "; ssh-agent not enabled"
		case agentErr != nil:
			why += "; " + agentErr.Error()
		default:
			why += "; ssh-agent " + e.agentSock + " holds no keys"
		}
		return nil, errors.New(why)
	}
	return c, nil
}

func (c *credentials) openAgent(sock string) ([]*agent.Key, []ssh.Signer, error) {
	if sock == "" {
		return nil, nil, errors.New("ssh-agent enabled but SSH_AUTH_SOCK is not set")
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to ssh-agent %s: %w", sock, err)
	}
	ag := agent.NewClient(conn)
	keys, err := ag.List()
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("listing ssh-agent %s keys: %w", sock, err)
	}
	signers, err := ag.Signers()
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("ssh-agent %s signers: %w", sock, err)
	}
	c.agent = conn
	return keys, signers, nil
}

func agentHolds(keys []*agent.Key, pub ssh.PublicKey) bool {
	for _, k := range keys {
		if bytes.Equal(k.Marshal(), pub.Marshal()) {
			return true
		}
	}
	return false
}

// authMethod offers every key in one publickey method, in order.
func (c *credentials) authMethod() ssh.AuthMethod {
	return ssh.PublicKeysCallback(func() ([]ssh.Signer, error) { return c.signers, nil })
}
