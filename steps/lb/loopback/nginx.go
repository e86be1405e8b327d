package loopback

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/zdu-dev/zdu/steps/transport"
)

// NginxConfig shapes a loopback nginx.
type NginxConfig struct {
	// Upstream is the upstream block's name (default "app").
	Upstream string
	// Servers are the upstream's servers, by address.
	Servers []*Backend
	// Dir is the prefix holding config, upstream file, logs and pid; default:
	// a new temp dir removed by Close.
	Dir string
	// NoClientKeepalive closes every client connection after its answer. A
	// reload closes the old workers' idle kept-alive client connections,
	// and a request racing that close is re-sent by the client (as HTTP
	// allows for a GET): a rehearsal counts that as the plan's failure,
	// which it is not.
	NoClientKeepalive bool
}

// Nginx is a running nginx master (daemon off) with its workers.
type Nginx struct {
	daemon
	Config string
	// UpstreamFile is the included file holding the upstream block.
	UpstreamFile string
	Upstream     string
	// TestCmd and ReloadCmd are the shell commands that check and reload this
	// nginx (what an inventory instance's test and reload hold).
	TestCmd, ReloadCmd string
	ErrorLog           string
	URL                string
}

// StartNginx writes a config under its own prefix and starts nginx in the
// foreground until its frontend answers.
func StartNginx(ctx context.Context, cfg NginxConfig) (*Nginx, error) {
	n := &Nginx{Upstream: cfg.Upstream}
	if n.Upstream == "" {
		n.Upstream = "app"
	}
	if err := n.useDir(cfg.Dir, "zdu-nginx-"); err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, n.fail(err)
	}
	n.URL = fmt.Sprintf("http://127.0.0.1:%d", port)
	n.Config = filepath.Join(n.Dir, "nginx.conf")
	n.UpstreamFile = filepath.Join(n.Dir, "upstream.conf")
	n.ErrorLog = filepath.Join(n.Dir, "error.log")
	keepalive := "75s" // nginx's default
	if cfg.NoClientKeepalive {
		keepalive = "0"
	}
	var up strings.Builder
	fmt.Fprintf(&up, "upstream %s {\n", n.Upstream)
	for _, s := range cfg.Servers {
		fmt.Fprintf(&up, "    server %s max_fails=0;\n", s.Addr())
	}
	up.WriteString("    keepalive 16;\n}\n")
	// proxy_next_upstream off: a failed request reaches the client, where the
	// tests count it, instead of being retried on another server.
	conf := fmt.Sprintf(`daemon off;
master_process on;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[2]s notice;
events { worker_connections 512; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    include %[3]s;
    keepalive_timeout %[6]s;
    server {
        listen 127.0.0.1:%[4]d;
        location / {
            proxy_pass http://%[5]s;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_next_upstream off;
            proxy_read_timeout 60s;
        }
    }
}
`, n.Dir, n.ErrorLog, n.UpstreamFile, port, n.Upstream, keepalive)
	if err := os.WriteFile(n.UpstreamFile, []byte(up.String()), 0o644); err != nil {
		return nil, n.fail(fmt.Errorf("writing %s: %w", n.UpstreamFile, err))
	}
	if err := os.WriteFile(n.Config, []byte(conf), 0o644); err != nil {
		return nil, n.fail(fmt.Errorf("writing %s: %w", n.Config, err))
	}
	base := fmt.Sprintf("%s -p %s -c %s -e %s", NginxPath, transport.Quote(n.Dir+"/"), transport.Quote(n.Config), transport.Quote(n.ErrorLog))
	n.TestCmd, n.ReloadCmd = base+" -t -q", base+" -s reload"
	args := []string{"-p", n.Dir + "/", "-c", n.Config, "-e", n.ErrorLog}
	err = n.start(ctx, "nginx "+n.Config, NginxPath, args, func(ctx context.Context) error {
		if _, err := os.Stat(filepath.Join(n.Dir, "nginx.pid")); err != nil {
			return err
		}
		return answers(ctx, n.URL)
	})
	if err != nil {
		return nil, n.fail(fmt.Errorf("%w (error log: %s)", err, n.Errors()))
	}
	return n, nil
}

// Errors returns the error log's lines at level error or worse: nginx's own
// record of failed upstream requests, the counterpart of HAProxy's counters.
func (n *Nginx) Errors() []string {
	b, _ := os.ReadFile(n.ErrorLog)
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		for _, lv := range []string{"[error]", "[crit]", "[alert]", "[emerg]"} {
			if strings.Contains(l, lv) {
				out = append(out, l)
				break
			}
		}
	}
	return out
}
