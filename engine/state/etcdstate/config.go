// Package etcdstate keeps zdu's state in etcd (v3 API), for a team of
// control hosts: the nodes' locks, held under a lease the running zdu keeps
// alive; the record of every run; each run's journal, event by event, and
// the files it was started with, so that any host reaching the cluster can
// follow a run, report it and resume it.
//
// Keys, under the URL's prefix P:
//
//	P/runs/ID            the run's record (state.Run, JSON)
//	P/alive/ID           who holds the run now; under its lease
//	P/locks/KEY          a node's lock (state.Node.Key); not leased: a run
//	                     that dies leaves it, and its nodes "unfinished"
//	P/journal/ID/SEQ     one journal event (SEQ zero-padded)
//	P/files/ID/NAME      run.json, plan.yaml, inventory.yaml
//	P/outages/ID/START   a time the run could not reach etcd
package etcdstate

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// Scheme starts a --state value that names an etcd cluster.
const Scheme = "etcd://"

// The environment variables that configure the connection: credentials
// never go on the command line, where ps and shell history show them.
const (
	EnvCACert   = "ZDU_ETCD_CACERT"   // PEM file of the CA that signed the members' certificates: TLS on
	EnvCert     = "ZDU_ETCD_CERT"     // client certificate (PEM), with EnvKey: TLS client auth
	EnvKey      = "ZDU_ETCD_KEY"      // the client certificate's key (PEM)
	EnvUser     = "ZDU_ETCD_USER"     // etcd user (etcd's own auth), with EnvPassword
	EnvPassword = "ZDU_ETCD_PASSWORD" // the user's password
)

// Config is where the cluster is and how to reach it.
type Config struct {
	Endpoints []string // host:port
	Prefix    string   // key prefix, "/zdu" when none is given
	// LeaseTTL bounds how long a dead holder's lease outlives it (the URL's
	// ?lease=, default 15s).
	LeaseTTL time.Duration
	// Timeout bounds each request (the URL's ?timeout=, default 5s).
	Timeout        time.Duration
	TLS            *tls.Config
	User, Password string
}

// IsURL reports whether a --state value names an etcd cluster.
func IsURL(s string) bool { return strings.HasPrefix(s, Scheme) }

// ParseURL reads etcd://HOST:PORT[,HOST:PORT...]/PREFIX[?lease=15s&timeout=5s]
// and the environment's TLS and auth settings.
func ParseURL(s string) (Config, error) {
	c := Config{LeaseTTL: 15 * time.Second, Timeout: 5 * time.Second}
	rest, ok := strings.CutPrefix(s, Scheme)
	if !ok {
		return c, fmt.Errorf("%q: an etcd state URL starts with %s", s, Scheme)
	}
	rest, query, _ := strings.Cut(rest, "?")
	hosts, prefix, _ := strings.Cut(rest, "/")
	if strings.Contains(hosts, "@") {
		return c, fmt.Errorf("%q: no credentials in the URL (the command line is seen by ps and kept in shell history): set $%s and $%s", s, EnvUser, EnvPassword)
	}
	for _, h := range strings.Split(hosts, ",") {
		host, port, err := net.SplitHostPort(h)
		if err != nil || host == "" || port == "" {
			return c, fmt.Errorf("%q: %q is not HOST:PORT", s, h)
		}
		c.Endpoints = append(c.Endpoints, h)
	}
	c.Prefix = "/" + strings.Trim(prefix, "/")
	if c.Prefix == "/" {
		c.Prefix = "/zdu"
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return c, fmt.Errorf("%q: %v", s, err)
	}
	for k, vs := range q {
		d, err := time.ParseDuration(vs[len(vs)-1])
		if err != nil || d <= 0 {
			return c, fmt.Errorf("%q: %s=%s is not a duration", s, k, vs[len(vs)-1])
		}
		switch k {
		case "lease":
			if d < 2*time.Second {
				return c, fmt.Errorf("%q: lease=%s: at least 2s (etcd's own minimum)", s, d)
			}
			c.LeaseTTL = d.Round(time.Second)
		case "timeout":
			c.Timeout = d
		default:
			return c, fmt.Errorf("%q: unknown setting %q (lease, timeout)", s, k)
		}
	}
	return c, c.fromEnv()
}

func (c *Config) fromEnv() error {
	c.User, c.Password = os.Getenv(EnvUser), os.Getenv(EnvPassword)
	if (c.User == "") != (c.Password == "") {
		return fmt.Errorf("$%s and $%s go together: set both or neither", EnvUser, EnvPassword)
	}
	ca, cert, key := os.Getenv(EnvCACert), os.Getenv(EnvCert), os.Getenv(EnvKey)
	if (cert == "") != (key == "") {
		return fmt.Errorf("$%s and $%s go together: set both or neither", EnvCert, EnvKey)
	}
	if ca == "" && cert == "" {
		return nil
	}
	c.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return fmt.Errorf("$%s: %w", EnvCACert, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("$%s: %s holds no PEM certificate", EnvCACert, ca)
		}
		c.TLS.RootCAs = pool
	}
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return fmt.Errorf("$%s, $%s: %w", EnvCert, EnvKey, err)
		}
		c.TLS.Certificates = []tls.Certificate{pair}
	}
	return nil
}

// String is the URL without its settings, for messages.
func (c Config) String() string {
	return Scheme + strings.Join(c.Endpoints, ",") + c.Prefix
}

var errNoCluster = errors.New("no etcd member answers")
