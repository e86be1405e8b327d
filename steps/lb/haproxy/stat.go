package haproxy

import (
	"context"
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"
)

// Stats is `show stat` parsed by its header row. HAProxy adds columns from
// version to version, so nothing here uses a fixed column index.
type Stats struct {
	Columns []string
	Rows    []StatRow
}

// StatRow is one proxy, server, frontend or backend line, by column name.
type StatRow map[string]string

// Int returns a numeric column; an empty or absent column is 0.
func (r StatRow) Int(col string) int64 {
	n, _ := strconv.ParseInt(r[col], 10, 64)
	return n
}

// Proxy and Server are the row's pxname and svname.
func (r StatRow) Proxy() string  { return r["pxname"] }
func (r StatRow) Server() string { return r["svname"] }

// Status is the row's status column, e.g. "UP", "DOWN", "DRAIN", "MAINT",
// "no check".
func (r StatRow) Status() string { return r["status"] }

// Serving reports whether HAProxy would send a new request to this server:
// up (or unchecked), not in drain or maintenance, with a non-zero weight.
func (r StatRow) Serving() bool {
	st := r.Status()
	up := st == "UP" || st == "no check" || strings.HasPrefix(st, "UP ")
	return up && (r["weight"] == "" || r.Int("weight") > 0)
}

// ParseStats parses the CSV answer of `show stat`.
func ParseStats(ans string) (*Stats, error) {
	ans = strings.TrimSpace(ans)
	if !strings.HasPrefix(ans, "# ") {
		return nil, fmt.Errorf("`show stat` answer does not start with its header row: %q", firstLine(ans))
	}
	r := csv.NewReader(strings.NewReader(ans[2:]))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("parsing `show stat`: %w", err)
	}
	st := &Stats{Columns: recs[0]}
	// The header line ends with a comma, so its last column name is empty.
	for len(st.Columns) > 0 && st.Columns[len(st.Columns)-1] == "" {
		st.Columns = st.Columns[:len(st.Columns)-1]
	}
	for _, want := range []string{"pxname", "svname", "status"} {
		if !contains(st.Columns, want) {
			return nil, fmt.Errorf("`show stat` header has no %q column: %v", want, st.Columns)
		}
	}
	for _, rec := range recs[1:] {
		row := make(StatRow, len(st.Columns))
		for i, col := range st.Columns {
			if i < len(rec) {
				row[col] = rec[i]
			}
		}
		st.Rows = append(st.Rows, row)
	}
	return st, nil
}

// Find returns the row of proxy/name (name "BACKEND" or "FRONTEND" for the
// proxy's own totals).
func (s *Stats) Find(proxy, name string) (StatRow, bool) {
	for _, r := range s.Rows {
		if r.Proxy() == proxy && r.Server() == name {
			return r, true
		}
	}
	return nil, false
}

// Servers returns the server rows of backend.
func (s *Stats) Servers(backend string) []StatRow {
	var out []StatRow
	for _, r := range s.Rows {
		if r.Proxy() == backend && r.Server() != "BACKEND" && r.Server() != "FRONTEND" {
			out = append(out, r)
		}
	}
	return out
}

// Stat runs `show stat` and parses it.
func (c *Client) Stat(ctx context.Context) (*Stats, error) {
	ans, err := c.Do(ctx, "show stat")
	if err != nil {
		return nil, err
	}
	st, err := ParseStats(ans)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Name, err)
	}
	return st, nil
}

// ServerStat returns backend/server's row, or an error naming what exists.
func (c *Client) ServerStat(ctx context.Context, backend, server string) (StatRow, error) {
	st, err := c.Stat(ctx)
	if err != nil {
		return nil, err
	}
	return st.Server(c.Name, backend, server)
}

// Server returns backend/server's row, or an error naming the socket and the
// servers the backend does have.
func (s *Stats) Server(socket, backend, server string) (StatRow, error) {
	if r, ok := s.Find(backend, server); ok {
		return r, nil
	}
	rows := s.Servers(backend)
	if len(rows) == 0 {
		if _, ok := s.Find(backend, "BACKEND"); !ok {
			return nil, fmt.Errorf("%s: no backend %q", socket, backend)
		}
	}
	names := make([]string, len(rows))
	for i, r := range rows {
		names[i] = r.Server()
	}
	return nil, fmt.Errorf("%s: backend %q has no server %q (it has %v)", socket, backend, server, names)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
