// Package completetest drives zdu's shell completion the way a shell does,
// for the tests of cmd/zdu and of the installed package (never linked into
// zdu).
package completetest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Bash loads the completion (setup, in cmd's bash with cmd's
// environment, PATH starting at bin), then completes line as bash does at
// a TAB at its end: COMP_LINE, COMP_POINT, COMP_WORDS and COMP_CWORD set,
// the function complete -p names called. It returns COMPREPLY joined by
// blanks.
func Bash(t *testing.T, cmd *exec.Cmd, bin, setup, line string) string {
	t.Helper()
	script := setup + `
line=$1
read -ra COMP_WORDS <<< "$line"
[[ $line == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE=$line
COMP_POINT=${#line}
spec=$(complete -p zdu) || { echo "no completion for zdu" >&2; exit 1; }
fn=$(sed -E 's/.*-F ([^ ]+).*/\1/' <<< "$spec")
"$fn" zdu "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
echo "${COMPREPLY[*]}"
`
	cmd.Args = append(cmd.Args[:1], "--norc", "--noprofile", "-c", script, "bash", line)
	path := bin
	for _, e := range cmd.Env {
		if p, ok := strings.CutPrefix(e, "PATH="); ok {
			path += string(os.PathListSeparator) + p
		}
	}
	cmd.Env = append(cmd.Env, "PATH="+path)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bash completion of %q: %v", line, err)
	}
	return strings.TrimSpace(string(out))
}
