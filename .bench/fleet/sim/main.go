// Command sim serves a fleet of virtual SSH nodes (engine/fleetsim) until
// SIGINT or SIGTERM, then prints what it saw as JSON on stdout. It writes a
// client key, a known_hosts and an inventory into -dir, then the file
// -dir/ready.
package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/zdu-dev/zdu/engine/fleetsim"
)

func main() {
	var opt fleetsim.Options
	dir := flag.String("dir", "", "where to write id_client, known_hosts, inventory.yaml and ready")
	flag.IntVar(&opt.Nodes, "nodes", 100, "virtual nodes")
	flag.DurationVar(&opt.Latency, "latency", 0, "added before each command's answer")
	flag.IntVar(&opt.MaxStartups, "max-startups", 0, "handshakes in progress at once over the fleet; more are dropped (0: no limit)")
	flag.IntVar(&opt.First, "first", 1, "number of the first node (a shard of a larger fleet starts past the others)")
	clientKey := flag.String("client-key", "", "the client's private key to accept (default: a new one, written to -dir/id_client)")
	flag.Parse()
	if err := run(*dir, *clientKey, opt); err != nil {
		fmt.Fprintln(os.Stderr, "sim:", err)
		os.Exit(1)
	}
}

func run(dir, keyPath string, opt fleetsim.Options) error {
	if dir == "" {
		return fmt.Errorf("-dir is required")
	}
	pub, keyPath, err := clientKey(dir, keyPath)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	st, err := fleetsim.Serve(ctx, opt, pub, func(f *fleetsim.Fleet) error {
		if _, err := f.WriteInventory(dir, keyPath, "sim"); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "sim: %d nodes up in %v\n", opt.Nodes, time.Since(start).Round(time.Millisecond))
		return os.WriteFile(filepath.Join(dir, "ready"), nil, 0o600)
	})
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(st)
}

// clientKey reads the client's key from keyPath, or makes a new one and
// writes it to dir/id_client; it returns the public key and the file.
func clientKey(dir, keyPath string) (ssh.PublicKey, string, error) {
	if keyPath != "" {
		b, err := os.ReadFile(keyPath)
		if err != nil {
			return nil, "", err
		}
		signer, err := ssh.ParsePrivateKey(b)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", keyPath, err)
		}
		return signer.PublicKey(), keyPath, nil
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, "", err
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return nil, "", err
	}
	keyPath = filepath.Join(dir, "id_client")
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, "", err
	}
	pub, err := ssh.NewPublicKey(priv.Public())
	return pub, keyPath, err
}
