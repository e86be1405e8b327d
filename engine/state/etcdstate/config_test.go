package etcdstate

import (
	"strings"
	"testing"
	"time"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url, want, err string
		lease          time.Duration
	}{
		{url: "etcd://127.0.0.1:2379/team", want: "etcd://127.0.0.1:2379/team", lease: 15 * time.Second},
		{url: "etcd://a:1,b:2,c:3", want: "etcd://a:1,b:2,c:3/zdu", lease: 15 * time.Second},
		{url: "etcd://a:1/x/y/?lease=4s&timeout=1s", want: "etcd://a:1/x/y", lease: 4 * time.Second},
		{url: "etcd://user:pw@a:1/x", err: "no credentials in the URL"},
		{url: "etcd://a/x", err: `"a" is not HOST:PORT`},
		{url: "etcd://a:1/x?lease=1s", err: "at least 2s"},
		{url: "etcd://a:1/x?ttl=3s", err: `unknown setting "ttl"`},
		{url: "etcd://a:1/x?lease=soon", err: "not a duration"},
		{url: "/var/lib/zdu", err: "starts with etcd://"},
	} {
		c, err := ParseURL(tc.url)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: got %v, want an error saying %q", tc.url, err, tc.err)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.url, err)
		case c.String() != tc.want || c.LeaseTTL != tc.lease:
			t.Errorf("%s: got %s (lease %s), want %s (lease %s)", tc.url, c, c.LeaseTTL, tc.want, tc.lease)
		}
	}
}

func TestParseURLEnv(t *testing.T) {
	t.Setenv(EnvUser, "ops")
	if _, err := ParseURL("etcd://a:1/x"); err == nil || !strings.Contains(err.Error(), EnvPassword) {
		t.Errorf("a user without a password: %v", err)
	}
	t.Setenv(EnvPassword, "s3cret")
	c, err := ParseURL("etcd://a:1/x")
	if err != nil || c.User != "ops" || c.Password != "s3cret" {
		t.Errorf("user and password from the environment: %+v, %v", c, err)
	}
	if strings.Contains(c.String(), "s3cret") {
		t.Errorf("the password shows in %s", c)
	}
	t.Setenv(EnvCACert, "/nonexistent/ca.pem")
	if _, err := ParseURL("etcd://a:1/x"); err == nil || !strings.Contains(err.Error(), EnvCACert) {
		t.Errorf("a missing CA file: %v", err)
	}
}
