// Package mask hides secret values in every text zdu writes: logs, the
// journal, the summary, the dry run, the console, error texts.
//
// A secret does not only appear as itself. A shell command carries it
// single-quoted; Go's errors quote it (%q: `Get "http://…?token=…"`); the
// journal JSON-escapes it; a URL carries it percent-encoded; an
// Authorization header carries it in base64. A Masker knows all of these
// forms of every secret, and of each line of a multi-line secret (a log
// is written a line at a time), and masks them all.
package mask

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/zdu-dev/zdu/steps/transport"
)

// Hidden replaces a secret.
const Hidden = "****"

// Masker hides secret values, in all their forms, in text. It is safe for
// concurrent use; values may be added while it is in use (a registered
// result marked secret becomes known only when its step has run).
type Masker struct {
	mu     sync.RWMutex
	values map[string]bool
	forms  map[string]bool
	r      *strings.Replacer
}

// New masks every value in secrets.
func New(secrets []string) *Masker {
	m := &Masker{values: map[string]bool{}, forms: map[string]bool{}}
	m.Add(secrets...)
	return m
}

// Add makes values secret from now on.
func (m *Masker) Add(values ...string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	changed := false
	for _, v := range values {
		if len(v) < MinSecret || m.values[v] {
			continue
		}
		m.values[v] = true
		for _, f := range Forms(v) {
			if !m.forms[f] {
				m.forms[f] = true
				changed = true
			}
		}
	}
	if changed {
		m.rebuild()
	}
}

// rebuild makes the replacer: longer forms first, so a secret containing
// another (or a form containing the raw value) is masked whole.
func (m *Masker) rebuild() {
	forms := make([]string, 0, len(m.forms))
	for f := range m.forms {
		forms = append(forms, f)
	}
	sort.Slice(forms, func(i, j int) bool {
		if len(forms[i]) != len(forms[j]) {
			return len(forms[i]) > len(forms[j])
		}
		return forms[i] < forms[j]
	})
	pairs := make([]string, 0, 2*len(forms))
	for _, f := range forms {
		pairs = append(pairs, f, Hidden)
	}
	m.r = strings.NewReplacer(pairs...)
}

// Forms lists the ways v can appear in text: itself, shell-quoted,
// Go-quoted, JSON-escaped, URL-encoded (query and path), base64 (standard
// and URL alphabets, padded or not); and, for a multi-line value, each of
// its lines (and their forms).
func Forms(v string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(f string) {
		if f != "" && !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	one := func(s string) {
		add(s)
		add(transport.Quote(s))
		q := strconv.Quote(s)
		add(q[1 : len(q)-1])
		q = strconv.QuoteToASCII(s)
		add(q[1 : len(q)-1])
		if b, err := json.Marshal(s); err == nil {
			add(string(b[1 : len(b)-1]))
		}
		var sb strings.Builder
		enc := json.NewEncoder(&sb)
		enc.SetEscapeHTML(false)
		if enc.Encode(s) == nil {
			j := strings.TrimSpace(sb.String())
			add(j[1 : len(j)-1])
		}
		add(url.QueryEscape(s))
		add(url.PathEscape(s))
		for _, e := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
			add(e.EncodeToString([]byte(s)))
		}
	}
	one(v)
	if strings.ContainsAny(v, "\r\n") {
		for _, line := range strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == '\r' }) {
			if len(strings.TrimSpace(line)) >= MinLine {
				one(line)
			}
		}
	}
	return out
}

// MinSecret is the shortest value masked: a secret of one to three bytes
// ("1", "no") is no secret, and masking it would hide every number and
// word that holds it.
const MinSecret = 4

// MinLine is the shortest line of a multi-line secret masked on its own:
// shorter ones ("}", "END") are everywhere, and masking them would hide
// everything else.
const MinLine = 4

// Mask returns s with secrets replaced.
func (m *Masker) Mask(s string) string {
	if m == nil {
		return s
	}
	m.mu.RLock()
	r := m.r
	m.mu.RUnlock()
	if r == nil {
		return s
	}
	return r.Replace(s)
}

// Secrets reports whether any value is secret.
func (m *Masker) Secrets() bool {
	if m == nil {
		return false
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.values) > 0
}

// Error wraps err so that its text is masked (nil stays nil).
func (m *Masker) Error(err error) error {
	if err == nil {
		return nil
	}
	return &maskedError{err: err, m: m}
}

type maskedError struct {
	err error
	m   *Masker
}

func (e *maskedError) Error() string { return e.m.Mask(e.err.Error()) }
func (e *maskedError) Unwrap() error { return e.err }

type ctxKey struct{}

// NewContext carries m to the code that learns the secrets (a command
// binds its plan's params deep down; its output writers were set up
// before).
func NewContext(ctx context.Context, m *Masker) context.Context {
	return context.WithValue(ctx, ctxKey{}, m)
}

// FromContext is the Masker NewContext carried, or nil.
func FromContext(ctx context.Context) *Masker {
	m, _ := ctx.Value(ctxKey{}).(*Masker)
	return m
}
