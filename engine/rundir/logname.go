package rundir

import (
	"crypto/sha256"
	"encoding/hex"
	"path"
)

// Lengths of a node log's file name (without ".log"): a node name up to
// maxPlain bytes is used as it is; a derived name is a slug of at most
// maxSlug bytes, '~' and hashLen hex digits. Both stay far below the 255
// bytes a file name may have.
const (
	maxPlain = 100
	maxSlug  = 64
	hashLen  = 16
)

// LogName is the file name of a node's log in the nodes directory. A node
// name that is a plain file name (ASCII letters, digits, '-', '_' and '.',
// not starting with '.', at most 100 bytes) is used as it is: web-1.log.
// Any other name gets a slug of it (other characters become '_', cut at
// 64 bytes), '~' and the first 16 hex digits of its SHA-256:
// "web/1" -> web_1~3f2c....log. A plain name never holds '~', so a derived
// name is never another node's plain one, and two derived names differ in
// their hash: distinct nodes never share a log file.
func LogName(node string) string {
	if isPlain(node) {
		return node + ".log"
	}
	slug := make([]byte, 0, min(len(node), maxSlug))
	for i := 0; i < len(node) && len(slug) < maxSlug; i++ {
		c := node[i]
		if !plainByte(c) || (i == 0 && c == '.') {
			c = '_'
		}
		slug = append(slug, c)
	}
	sum := sha256.Sum256([]byte(node))
	return string(slug) + "~" + hex.EncodeToString(sum[:])[:hashLen] + ".log"
}

// NodeLogPaths maps each node to its log, relative to the run directory
// (nodes/web-1.log), as run.json records it.
func NodeLogPaths(nodes []string) map[string]string {
	out := make(map[string]string, len(nodes))
	for _, n := range nodes {
		out[n] = path.Join(NodesDir, LogName(n))
	}
	return out
}

func isPlain(s string) bool {
	if s == "" || len(s) > maxPlain || s[0] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !plainByte(s[i]) {
			return false
		}
	}
	return true
}

func plainByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
}
