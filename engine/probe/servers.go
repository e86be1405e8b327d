package probe

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// ServerHeader is the response header that names the server behind the
// load balancer that answered (HAProxy: http-after-response set-header
// X-Served-By %s; the sandbox's services set it too). Where the load
// balancer adds it, the probe attributes each response, failures included,
// to its server and reports each server's outages: round-robin answers
// from healthy servers no longer cut one server's outage short.
const ServerHeader = "X-Served-By"

// maxServers bounds the servers told apart; answers naming more count as
// from no known server.
const maxServers = 1024

// maxServerWindows bounds the outage windows kept per server.
const maxServerWindows = 50

// ServerFigures are what the probe saw of one server.
type ServerFigures struct {
	Server   string `json:"server"`
	Requests int64  `json:"requests"`
	Failed   int64  `json:"failed"`
	// LongestFailureMS is the server's longest outage: from its first
	// failed answer to its next good one (or the last failure's end).
	LongestFailureMS float64 `json:"longest_failure_ms"`
	// Outages are its outage windows in time order (at most 50), from the
	// probe's start.
	Outages []Outage `json:"outages,omitempty"`
}

// Outage is one window of a server's failed answers.
type Outage struct {
	FromMS float64 `json:"from_ms"`
	ToMS   float64 `json:"to_ms"`
	Failed int64   `json:"failed"`
}

// serverIndex is the 1-based index of name (0: none), adding it if new.
// Called with p.mu not held.
func (p *Probe) serverIndex(name string) uint16 {
	if name == "" || len(name) > 255 {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if i, ok := p.servers[name]; ok {
		return i
	}
	if len(p.serverNames) >= maxServers {
		return 0
	}
	p.serverNames = append(p.serverNames, name)
	i := uint16(len(p.serverNames))
	p.servers[name] = i
	return i
}

// serverWindows follows one server's outages in send order.
type serverWindows struct {
	fig  ServerFigures
	w    windows
	open *Outage
}

func (sw *serverWindows) add(s sample) {
	sw.fig.Requests++
	wasOpen := sw.w.open
	sw.w.add(s)
	switch {
	case !s.ok:
		sw.fig.Failed++
		if !wasOpen {
			sw.open = &Outage{FromMS: ms(s.at)}
		}
		sw.open.Failed++
		sw.open.ToMS = max(sw.open.ToMS, ms(s.end()))
	case wasOpen:
		sw.open.ToMS = ms(s.at)
		sw.closeOutage()
	}
}

func (sw *serverWindows) closeOutage() {
	if sw.open != nil && len(sw.fig.Outages) < maxServerWindows {
		sw.fig.Outages = append(sw.fig.Outages, *sw.open)
	}
	sw.open = nil
}

func (sw *serverWindows) result() ServerFigures {
	sw.fig.LongestFailureMS = ms(sw.w.result())
	sw.closeOutage()
	return sw.fig
}

// serverFigures attributes the samples to their servers; nil when no
// answer named one.
func (p *Probe) serverFigures() []ServerFigures {
	p.mu.Lock()
	names := slices.Clone(p.serverNames)
	p.mu.Unlock()
	if len(names) == 0 {
		return nil
	}
	per := make([]serverWindows, len(names)+1)
	p.samples.each(func(s sample) {
		if s.srv != 0 {
			per[s.srv].add(s)
		}
	})
	out := make([]ServerFigures, 0, len(names))
	for i, n := range names {
		sw := &per[i+1]
		sw.fig.Server = n
		out = append(out, sw.result())
	}
	slices.SortFunc(out, func(a, b ServerFigures) int { return strings.Compare(a.Server, b.Server) })
	return out
}

// ServerLines are the servers that failed, one line each, for the summary.
func (r Result) ServerLines() []string {
	var out []string
	for _, s := range r.Servers {
		if s.Failed == 0 {
			continue
		}
		line := fmt.Sprintf("%s: failed %d of %d, longest outage %s ms", s.Server, s.Failed, s.Requests, fmtMS(s.LongestFailureMS))
		var ws []string
		for _, o := range s.Outages[:min(len(s.Outages), 5)] {
			ws = append(ws, fmt.Sprintf("%s–%s", offset(o.FromMS), offset(o.ToMS)))
		}
		if len(ws) > 0 {
			line += " (" + strings.Join(ws, ", ")
			if len(s.Outages) > 5 {
				line += fmt.Sprintf(", %d more", len(s.Outages)-5)
			}
			line += " after the probe's start)"
		}
		out = append(out, line)
	}
	return out
}

func offset(msv float64) string {
	return (time.Duration(msv * float64(time.Millisecond))).Round(time.Millisecond).String()
}
