package ssh

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// hostSettings is what an OpenSSH client config says about one host: only the
// keywords zdu honours. Empty fields were not set.
type hostSettings struct {
	HostName       string
	User           string
	Port           string
	IdentityFiles  []string
	ProxyJump      string
	KnownHosts     []string // UserKnownHostsFile
	IdentityAgent  string
	ConnectTimeout string
}

// sshConfig is a parsed ssh_config(5) file, Include directives inlined.
type sshConfig struct {
	path  string
	lines []configLine
}

type configLine struct {
	file string
	num  int
	key  string // lower case
	args []string
}

// maxIncludeDepth matches OpenSSH's guard against Include loops.
const maxIncludeDepth = 16

// readSSHConfig parses path. Relative Include paths resolve against ~/.ssh,
// as OpenSSH does for a user config.
func readSSHConfig(path string) (*sshConfig, error) {
	c := &sshConfig{path: path}
	if err := c.read(path, 0); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *sshConfig) read(path string, depth int) error {
	if depth > maxIncludeDepth {
		return fmt.Errorf("ssh config %s: Include nested too deeply", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("reading ssh config: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	num := 0
	for sc.Scan() {
		num++
		key, args, err := splitConfigLine(sc.Text())
		if err != nil {
			return fmt.Errorf("ssh config %s:%d: %w", path, num, err)
		}
		if key == "" {
			continue
		}
		if key != "include" {
			c.lines = append(c.lines, configLine{file: path, num: num, key: key, args: args})
			continue
		}
		// Include is textual: the included lines belong to the current block.
		for _, pat := range args {
			pat = expandHome(pat)
			if !filepath.IsAbs(pat) {
				pat = filepath.Join(homeDir(), ".ssh", pat)
			}
			matches, _ := filepath.Glob(pat)
			for _, m := range matches {
				if err := c.read(m, depth+1); err != nil {
					return err
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading ssh config %s: %w", path, err)
	}
	return nil
}

// splitConfigLine splits "Key value", "Key=value" and quoted arguments.
func splitConfigLine(line string) (string, []string, error) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return "", nil, nil
	}
	end := strings.IndexAny(line, " \t=")
	if end < 0 {
		return "", nil, fmt.Errorf("%q has no value", line)
	}
	key := strings.ToLower(line[:end])
	rest := strings.TrimLeft(line[end:], " \t")
	rest = strings.TrimPrefix(rest, "=")
	var args []string
	for rest = strings.TrimSpace(rest); rest != ""; rest = strings.TrimSpace(rest) {
		if rest[0] == '#' {
			break
		}
		if rest[0] == '"' {
			i := strings.IndexByte(rest[1:], '"')
			if i < 0 {
				return "", nil, fmt.Errorf("unterminated quote in %q", line)
			}
			args = append(args, rest[1:i+1])
			rest = rest[i+2:]
			continue
		}
		i := strings.IndexAny(rest, " \t")
		if i < 0 {
			i = len(rest)
		}
		args = append(args, rest[:i])
		rest = rest[i:]
	}
	if len(args) == 0 {
		return "", nil, fmt.Errorf("%s has no value", key)
	}
	return key, args, nil
}

// lookup applies the file to alias the way ssh does: blocks in order, the
// first value of each keyword wins, IdentityFile accumulates. Match blocks
// other than "Match all" are not evaluated and never apply.
func (c *sshConfig) lookup(alias string) hostSettings {
	var s hostSettings
	applies := true // lines before the first Host apply to every host
	for _, l := range c.lines {
		switch l.key {
		case "host":
			applies = hostMatches(l.args, alias)
			continue
		case "match":
			applies = len(l.args) == 1 && strings.EqualFold(l.args[0], "all")
			continue
		}
		if !applies {
			continue
		}
		v := l.args[0]
		switch l.key {
		case "hostname":
			setOnce(&s.HostName, strings.ReplaceAll(v, "%h", alias))
		case "user":
			setOnce(&s.User, v)
		case "port":
			setOnce(&s.Port, v)
		case "identityfile":
			s.IdentityFiles = append(s.IdentityFiles, v)
		case "proxyjump":
			setOnce(&s.ProxyJump, v)
		case "identityagent":
			setOnce(&s.IdentityAgent, v)
		case "connecttimeout":
			setOnce(&s.ConnectTimeout, v)
		case "userknownhostsfile":
			if s.KnownHosts == nil {
				s.KnownHosts = l.args
			}
		}
	}
	return s
}

func setOnce(dst *string, v string) {
	if *dst == "" {
		*dst = v
	}
}

// hostMatches implements ssh_config pattern lists: any positive match and no
// negated match.
func hostMatches(patterns []string, host string) bool {
	matched := false
	for _, p := range patterns {
		for _, q := range strings.Split(p, ",") {
			neg := strings.HasPrefix(q, "!")
			if !wildcardMatch(strings.TrimPrefix(q, "!"), host) {
				continue
			}
			if neg {
				return false
			}
			matched = true
		}
	}
	return matched
}

// wildcardMatch matches ssh patterns: '*' any run, '?' one character.
func wildcardMatch(pat, s string) bool {
	for len(pat) > 0 {
		switch pat[0] {
		case '*':
			for i := len(s); i >= 0; i-- {
				if wildcardMatch(pat[1:], s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
		default:
			if s == "" || !strings.EqualFold(pat[:1], s[:1]) {
				return false
			}
		}
		pat, s = pat[1:], s[1:]
	}
	return s == ""
}

// expandTokens expands the ssh_config tokens zdu supports in paths.
func expandTokens(v, host, port, remoteUser, localUser string) string {
	r := strings.NewReplacer("%%", "%", "%d", homeDir(), "%h", host, "%p", port,
		"%r", remoteUser, "%u", localUser)
	return expandHome(r.Replace(v))
}

func expandHome(p string) string {
	if p == "~" {
		return homeDir()
	}
	if strings.HasPrefix(p, "~/") {
		return filepath.Join(homeDir(), p[2:])
	}
	return p
}

func homeDir() string {
	if h, err := os.UserHomeDir(); err == nil {
		return h
	}
	return "/"
}
