// Package mask hides secret values in every text zdu writes: logs, the
// journal, the summary, the dry run, error texts.
package mask

import (
	"strings"

	"github.com/zdu-dev/zdu/steps/transport"
)

// Masker hides secret values (and their shell-quoted forms) in text.
type Masker struct{ r *strings.Replacer }

// New masks every value in secrets.
func New(secrets []string) *Masker {
	var pairs []string
	for _, s := range secrets {
		if s == "" {
			continue
		}
		pairs = append(pairs, s, "****")
		if q := transport.Quote(s); q != "'"+s+"'" {
			pairs = append(pairs, q, "'****'")
		}
	}
	// Longer first, so a secret containing another is masked whole.
	for i := 0; i < len(pairs); i += 2 {
		for j := i + 2; j < len(pairs); j += 2 {
			if len(pairs[j]) > len(pairs[i]) {
				pairs[i], pairs[j] = pairs[j], pairs[i]
				pairs[i+1], pairs[j+1] = pairs[j+1], pairs[i+1]
			}
		}
	}
	return &Masker{r: strings.NewReplacer(pairs...)}
}

// Mask returns s with secrets replaced.
func (m *Masker) Mask(s string) string {
	if m == nil || m.r == nil {
		return s
	}
	return m.r.Replace(s)
}
