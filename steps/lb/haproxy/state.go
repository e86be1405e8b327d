package haproxy

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// AdminState is a server's administrative state in HAProxy
// (srv_admin_state of `show servers state`): what an operator or zdu set,
// whatever its health checks say. A drained server whose service is down is
// "DOWN" in `show stat`; here it is still drained.
type AdminState int

// Admin state flags (HAProxy's SRV_ADMF_*).
const (
	AdminForcedMaint  AdminState = 0x01
	AdminForcedDrain  AdminState = 0x08
	AdminInheritDrain AdminState = 0x10
)

// Drained reports whether the server is held out of new traffic, by drain
// or by maintenance.
func (a AdminState) Drained() bool {
	return a&(AdminForcedDrain|AdminInheritDrain|AdminForcedMaint) != 0
}

// ServerState reads a server's admin state and current weight with `show
// servers state BACKEND`.
func (c *Client) ServerState(ctx context.Context, backend, server string) (AdminState, int, error) {
	ans, err := c.Do(ctx, "show servers state "+backend)
	if err != nil {
		return 0, 0, err
	}
	return parseServerState(ans, backend, server)
}

// parseServerState finds server's row in a `show servers state` answer: a
// version line, a "# " header naming the columns, then one row a server.
func parseServerState(ans, backend, server string) (AdminState, int, error) {
	var cols []string
	for _, line := range strings.Split(ans, "\n") {
		line = strings.TrimSpace(line)
		if h, ok := strings.CutPrefix(line, "# "); ok {
			cols = strings.Fields(h)
			continue
		}
		f := strings.Fields(line)
		if cols == nil || len(f) < len(cols) {
			continue
		}
		row := map[string]string{}
		for i, c := range cols {
			row[c] = f[i]
		}
		if row["be_name"] != backend || row["srv_name"] != server {
			continue
		}
		admin, err1 := strconv.Atoi(row["srv_admin_state"])
		weight, err2 := strconv.Atoi(row["srv_uweight"])
		if err1 != nil || err2 != nil {
			return 0, 0, fmt.Errorf("`show servers state %s`: unreadable row for %s: %q", backend, server, line)
		}
		return AdminState(admin), weight, nil
	}
	if cols == nil {
		return 0, 0, fmt.Errorf("`show servers state %s` has no header: %q", backend, firstLine(ans))
	}
	return 0, 0, fmt.Errorf("no server %s/%s in `show servers state`", backend, server)
}
