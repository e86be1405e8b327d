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
	flag.Parse()
	if err := run(*dir, opt); err != nil {
		fmt.Fprintln(os.Stderr, "sim:", err)
		os.Exit(1)
	}
}

func run(dir string, opt fleetsim.Options) error {
	if dir == "" {
		return fmt.Errorf("-dir is required")
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return err
	}
	keyPath := filepath.Join(dir, "id_client")
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(block), 0o600); err != nil {
		return err
	}
	pub, err := ssh.NewPublicKey(priv.Public())
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
