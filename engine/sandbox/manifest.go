package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/zdu-dev/zdu/engine/safefile"
	"github.com/zdu-dev/zdu/steps/lb/haproxy"
)

// ManifestFile, in a persistent sandbox's directory (zdu sandbox up), says
// what runs there, for the commands that come later (status, hold, down)
// and for the operator.
const ManifestFile = "sandbox.json"

// maxManifest bounds sandbox.json: a few hundred bytes per node.
const maxManifest = 16 << 20

// Manifest is sandbox.json.
type Manifest struct {
	PID       int    `json:"pid"` // the process that owns the sandbox
	Dir       string `json:"dir"`
	Plan      string `json:"plan"`
	Inventory string `json:"inventory"`
	// URL is HAProxy's frontend ("" when no node is balanced); Socket its
	// admin socket; Backend the backend holding the nodes.
	URL     string `json:"url,omitempty"`
	Socket  string `json:"socket,omitempty"`
	Backend string `json:"backend"`
	// ProbeRate is the availability probe's rate from up to down (0: none).
	ProbeRate float64        `json:"probe_rate"`
	Started   time.Time      `json:"started"`
	Nodes     []ManifestNode `json:"nodes"`
}

// ManifestNode is one node of the manifest.
type ManifestNode struct {
	Name     string   `json:"name"`
	Groups   []string `json:"groups"`
	Balanced bool     `json:"balanced"`
	SSH      string   `json:"ssh"`     // 127.0.0.1:PORT
	Service  string   `json:"service"` // 127.0.0.1:PORT
	Root     string   `json:"root"`
}

// Manifest describes the running sandbox.
func (s *Sandbox) Manifest(plan string, probeRate float64) Manifest {
	m := Manifest{PID: os.Getpid(), Dir: s.Dir, Plan: plan, Inventory: s.Inventory, URL: s.URL,
		Backend: s.cfg.Backend, ProbeRate: probeRate, Started: time.Now().UTC()}
	if s.HAProxy != nil {
		m.Socket = s.HAProxy.Socket
	}
	for _, n := range s.Nodes {
		m.Nodes = append(m.Nodes, ManifestNode{Name: n.Spec.Name, Groups: n.Spec.Groups, Balanced: !n.Spec.Unbalanced,
			SSH: n.SSH.Addr, Service: n.Service.Addr(), Root: n.Layout.Root})
	}
	return m
}

// WriteManifest writes m in its directory, whole or not at all.
func WriteManifest(m Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	p := filepath.Join(m.Dir, ManifestFile)
	if err := os.WriteFile(p+".tmp", append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	return os.Rename(p+".tmp", p)
}

// ReadManifest reads dir's sandbox.json.
func ReadManifest(dir string) (Manifest, error) {
	var m Manifest
	// The directory is the operator's --dir: a FIFO planted there must not
	// hang zdu sandbox status.
	b, err := safefile.Read(filepath.Join(dir, ManifestFile), maxManifest)
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%s: %w", filepath.Join(dir, ManifestFile), err)
	}
	return m, nil
}

// Node is the manifest's node named name.
func (m Manifest) Node(name string) (ManifestNode, bool) {
	for _, n := range m.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return ManifestNode{}, false
}

// NodeNames lists the nodes.
func (m Manifest) NodeNames() []string {
	out := make([]string, len(m.Nodes))
	for i, n := range m.Nodes {
		out[i] = n.Name
	}
	return out
}

// NodeStatus is what a node of a running sandbox looks like from outside:
// the version its service answers, its state in HAProxy, its holds.
type NodeStatus struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"` // "" when the service does not answer
	Up      bool   `json:"up"`
	// LB is the node's server in HAProxy: ready, drain or maint ("" when
	// it is not balanced); Weight its current weight.
	LB      string   `json:"lb,omitempty"`
	Weight  int      `json:"weight,omitempty"`
	LBError string   `json:"lb_error,omitempty"`
	Held    []string `json:"held,omitempty"`
	Waiting []string `json:"waiting,omitempty"`
}

// Observe asks every node's service for its version and HAProxy for the
// node's server state, changing nothing.
func (m Manifest) Observe(ctx context.Context) []NodeStatus {
	client := &http.Client{Timeout: 2 * time.Second}
	var lb *haproxy.Client
	if m.Socket != "" {
		var d net.Dialer
		lb = haproxy.NewClient("sandbox", "unix", m.Socket, d.DialContext)
	}
	out := make([]NodeStatus, 0, len(m.Nodes))
	for _, n := range m.Nodes {
		st := NodeStatus{Name: n.Name}
		st.Held, st.Waiting = Held(NewLayout(n.Root))
		if resp, err := client.Get("http://" + n.Service + "/health"); err == nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
			resp.Body.Close()
			// "ok NODE VERSION"
			if f := strings.Fields(string(b)); resp.StatusCode == 200 && len(f) == 3 {
				st.Up, st.Version = true, f[2]
			}
		}
		if n.Balanced && lb != nil {
			admin, weight, err := lb.ServerState(ctx, m.Backend, n.Name)
			switch {
			case err != nil:
				st.LBError = err.Error()
			case admin&haproxy.AdminForcedMaint != 0:
				st.LB = "maint"
			case admin.Drained():
				st.LB = "drain"
			default:
				st.LB = "ready"
			}
			st.Weight = weight
		}
		out = append(out, st)
	}
	return out
}
