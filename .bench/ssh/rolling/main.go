// Command rolling times a rolling run over SSH nodes for .bench/ssh/run.sh:
// for each node in turn, connect, run the same trivial commands one after
// another on that one connection, close. -mode transport goes through zdu's
// SSH transport; -mode bare is the floor: x/crypto/ssh with nothing around it.
// It prints the wall-clock seconds of the whole run.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/zdu-dev/zdu/steps/transport"
	zssh "github.com/zdu-dev/zdu/steps/transport/ssh"
)

func main() {
	mode := flag.String("mode", "transport", "transport or bare")
	nodes := flag.String("nodes", "", "file with one host:port per line")
	user := flag.String("user", "", "remote user")
	key := flag.String("key", "", "private key file")
	known := flag.String("known-hosts", "", "known_hosts file")
	cmds := flag.String("commands", "", "commands, separated by ';;'")
	flag.Parse()
	addrs, err := readLines(*nodes)
	if err != nil {
		fail(err)
	}
	steps := strings.Split(*cmds, ";;")
	start := time.Now()
	for _, addr := range addrs {
		switch *mode {
		case "transport":
			err = viaTransport(addr, *user, *key, *known, steps)
		case "bare":
			err = bare(addr, *user, *key, *known, steps)
		default:
			err = fmt.Errorf("unknown -mode %q", *mode)
		}
		if err != nil {
			fail(err)
		}
	}
	fmt.Printf("%.3f\n", time.Since(start).Seconds())
}

func viaTransport(addr, user, key, known string, steps []string) error {
	host, port, _ := net.SplitHostPort(addr)
	var p int
	fmt.Sscan(port, &p)
	ctx := context.Background()
	tr, err := zssh.Dial(ctx, zssh.Config{Name: addr, Host: host, Port: p, User: user,
		IdentityFiles: []string{key}, KnownHostsFiles: []string{known}, SSHConfigFile: "none"})
	if err != nil {
		return err
	}
	defer tr.Close()
	for _, s := range steps {
		res, err := tr.Run(ctx, transport.Command{Script: s})
		if err != nil {
			return err
		}
		if res.ExitCode != 0 {
			return fmt.Errorf("%s on %s: exit %d", s, addr, res.ExitCode)
		}
	}
	return nil
}

func bare(addr, user, key, known string, steps []string) error {
	pem, err := os.ReadFile(key)
	if err != nil {
		return err
	}
	signer, err := xssh.ParsePrivateKey(pem)
	if err != nil {
		return err
	}
	cb, err := knownhosts.New(known)
	if err != nil {
		return err
	}
	c, err := xssh.Dial("tcp", addr, &xssh.ClientConfig{User: user, Auth: []xssh.AuthMethod{xssh.PublicKeys(signer)},
		HostKeyCallback: cb, HostKeyAlgorithms: []string{xssh.KeyAlgoED25519}, Timeout: 10 * time.Second})
	if err != nil {
		return err
	}
	defer c.Close()
	for _, s := range steps {
		sess, err := c.NewSession()
		if err != nil {
			return err
		}
		_, err = sess.CombinedOutput(s)
		sess.Close()
		if err != nil {
			return fmt.Errorf("%s on %s: %w", s, addr, err)
		}
	}
	return nil
}

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out, sc.Err()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "rolling:", err)
	os.Exit(1)
}
