package sandbox

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// UnprivilegedUser is who a sandbox node's commands run as when zdu runs
// as root: a stray command then has nobody's rights, not root's.
const UnprivilegedUser = "nobody"

// runAs is the credential the nodes' commands run with, or nil to run them
// as zdu's own user: zdu is not root, the user does not exist, or the
// sandbox's directory is not reachable by it (a --dir under /root).
func runAs(dir string) (*syscall.Credential, string) {
	if os.Geteuid() != 0 {
		return nil, ""
	}
	u, err := user.Lookup(UnprivilegedUser)
	if err != nil {
		return nil, fmt.Sprintf("no user %s on this machine", UnprivilegedUser)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil || uid == 0 {
		return nil, fmt.Sprintf("user %s has no usable uid", UnprivilegedUser)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err.Error()
	}
	// Every directory above the sandbox's must let others through.
	for p := filepath.Dir(abs); ; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm()&0o001 == 0 {
			return nil, fmt.Sprintf("%s cannot reach %s (%s is not open to others)", UnprivilegedUser, dir, p)
		}
		if p == "/" {
			break
		}
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, ""
}

// giveTo hands a node's directory to the credential's user, so that its
// commands can write their state there; the sandbox's own directory stays
// root's, open to others only for passing through.
func giveTo(root string, c *syscall.Credential) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(c.Uid), int(c.Gid))
	})
}
