package sshtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"
)

// KeyType names a key algorithm the harness can generate.
type KeyType string

// The key types OpenSSH users meet in practice.
const (
	ED25519 KeyType = "ed25519"
	ECDSA   KeyType = "ecdsa"
	RSA     KeyType = "rsa"
)

// Key is a generated key pair written to disk in OpenSSH format.
type Key struct {
	Type KeyType
	// Path is the private key file; Path+".pub" holds the public key.
	Path   string
	Signer ssh.Signer // nil when the key was written with a passphrase
	Public ssh.PublicKey
	// Private is the raw private key (for loading into an agent).
	Private crypto.PrivateKey
}

// AuthorizedLine is the key as one authorized_keys / .pub line.
func (k *Key) AuthorizedLine() string { return string(ssh.MarshalAuthorizedKey(k.Public)) }

// GenerateKey creates a key of type typ and writes it to dir/name (mode 0600)
// and dir/name.pub. A non-empty passphrase encrypts the private key file.
func GenerateKey(dir, name string, typ KeyType, passphrase string) (*Key, error) {
	var priv crypto.PrivateKey
	var err error
	switch typ {
	case ED25519:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case ECDSA:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RSA:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		return nil, fmt.Errorf("generating key %s: unknown key type %q", name, typ)
	}
	if err != nil {
		return nil, fmt.Errorf("generating %s key %s: %w", typ, name, err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("signer for key %s: %w", name, err)
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "zdu-test-"+name)
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "zdu-test-"+name, []byte(passphrase))
	}
	if err != nil {
		return nil, fmt.Errorf("encoding key %s: %w", name, err)
	}
	k := &Key{Type: typ, Path: filepath.Join(dir, name), Public: signer.PublicKey(), Private: priv}
	if passphrase == "" {
		k.Signer = signer
	}
	if err := os.WriteFile(k.Path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, fmt.Errorf("writing key: %w", err)
	}
	if err := os.WriteFile(k.Path+".pub", []byte(k.AuthorizedLine()), 0o644); err != nil {
		return nil, fmt.Errorf("writing public key: %w", err)
	}
	return k, nil
}
