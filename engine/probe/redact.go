package probe

import (
	"net/url"
	"strings"
)

// mask stands for a password, as url.URL.Redacted writes it.
const mask = "xxxxx"

// redact is raw fit to show in a Result or an error: a URL with a host has
// its password masked by url.URL.Redacted. Anything else was mistyped, and
// Go may have read a password as a scheme, a port or a path (as it does
// "user:pass@host"), so everything from the start of the authority to the
// last "@" is masked, the user name too.
func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Redacted()
	}
	at := strings.LastIndex(raw, "@")
	if at < 0 {
		return raw
	}
	from := 0
	if i := strings.Index(raw, "//"); i >= 0 && i < at {
		from = i + len("//")
	}
	return raw[:from] + mask + raw[at:]
}
