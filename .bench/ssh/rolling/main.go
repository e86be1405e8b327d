// Command rolling times a rolling run over SSH nodes for .bench/ssh/run.sh:
// for each node in turn, connect, run the same trivial commands one after
// another on that one connection, close. -mode transport goes through zdu's
// SSH transport; -mode bare is the floor: x/crypto/ssh with nothing around it.
// -connect parallel opens every node's connection first, in parallel, as
// zdu's preflight does (for both modes); serial connects on each node's turn.
// It prints the wall-clock seconds of the whole run.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
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
	connect := flag.String("connect", "parallel", "parallel: connect to every node first (zdu's preflight); serial: connect as each node's turn comes")
	flag.Parse()
	addrs, err := readLines(*nodes)
	if err != nil {
		fail(err)
	}
	steps := strings.Split(*cmds, ";;")
	start := time.Now()
	var run func(i int) error
	switch {
	case *mode == "transport" && *connect == "parallel":
		run, err = transportPreflight(addrs, *user, *key, *known, steps)
	case *mode == "transport":
		run = func(i int) error { return viaTransport(addrs[i], *user, *key, *known, steps) }
	case *mode == "bare" && *connect == "parallel":
		run, err = barePreflight(addrs, *user, *key, *known, steps)
	case *mode == "bare":
		run = func(i int) error {
			c, err := bareDial(addrs[i], *user, *key, *known)
			if err != nil {
				return err
			}
			defer c.Close()
			return bareSteps(c, addrs[i], steps)
		}
	default:
		err = fmt.Errorf("unknown -mode %q", *mode)
	}
	if err != nil {
		fail(err)
	}
	for i := range addrs {
		if err := run(i); err != nil {
			fail(err)
		}
	}
	fmt.Printf("%.3f\n", time.Since(start).Seconds())
}

func viaTransport(addr, user, key, known string, steps []string) error {
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
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

func transportPreflight(addrs []string, user, key, known string, steps []string) (func(int) error, error) {
	var cfgs []zssh.Config
	for _, a := range addrs {
		host, port, _ := net.SplitHostPort(a)
		p, _ := strconv.Atoi(port)
		cfgs = append(cfgs, zssh.Config{Name: a, Host: host, Port: p, User: user,
			IdentityFiles: []string{key}, KnownHostsFiles: []string{known}, SSHConfigFile: "none"})
	}
	trs, errs := zssh.Preflight(context.Background(), cfgs)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return func(i int) error {
		tr := trs[addrs[i]]
		defer tr.Close()
		for _, s := range steps {
			res, err := tr.Run(context.Background(), transport.Command{Script: s})
			if err != nil {
				return err
			}
			if res.ExitCode != 0 {
				return fmt.Errorf("%s on %s: exit %d", s, addrs[i], res.ExitCode)
			}
		}
		return nil
	}, nil
}

func barePreflight(addrs []string, user, key, known string, steps []string) (func(int) error, error) {
	clients := make([]*xssh.Client, len(addrs))
	errs := make([]error, len(addrs))
	var wg sync.WaitGroup
	for i := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			clients[i], errs[i] = bareDial(addrs[i], user, key, known)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return func(i int) error {
		defer clients[i].Close()
		return bareSteps(clients[i], addrs[i], steps)
	}, nil
}

func bareDial(addr, user, key, known string) (*xssh.Client, error) {
	pem, err := os.ReadFile(key)
	if err != nil {
		return nil, err
	}
	signer, err := xssh.ParsePrivateKey(pem)
	if err != nil {
		return nil, err
	}
	cb, err := knownhosts.New(known)
	if err != nil {
		return nil, err
	}
	return xssh.Dial("tcp", addr, &xssh.ClientConfig{User: user, Auth: []xssh.AuthMethod{xssh.PublicKeys(signer)},
		HostKeyCallback: cb, HostKeyAlgorithms: []string{xssh.KeyAlgoED25519}, Timeout: 10 * time.Second})
}

func bareSteps(c *xssh.Client, addr string, steps []string) error {
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
