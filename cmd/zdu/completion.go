package main

import (
	"context"
	"embed"
	"flag"
	"io"
)

// The scripts call zdu __complete (complete.go) at each TAB: they hold no
// knowledge of zdu's commands themselves.
//
//go:embed completions/zdu.bash completions/zdu.zsh completions/zdu.fish
var completionScripts embed.FS

// completionFiles are the scripts by shell, and where the package installs
// them (the directories each shell reads completions from).
var completionFiles = map[string]struct{ script, installed string }{
	"bash": {"completions/zdu.bash", "/usr/share/bash-completion/completions/zdu"},
	"zsh":  {"completions/zdu.zsh", "/usr/share/zsh/vendor-completions/_zdu"},
	"fish": {"completions/zdu.fish", "/usr/share/fish/vendor_completions.d/zdu.fish"},
}

func cmdCompletion(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("completion", flag.ContinueOnError)
	pos, err := parseInterleaved(fs, args)
	if err == nil && len(pos) != 1 {
		err = badUsage("expected one SHELL: bash, zsh or fish")
	}
	if err == nil {
		if _, ok := completionFiles[pos[0]]; !ok {
			err = badUsage("unknown shell %q: bash, zsh or fish%s", pos[0], didYouMean(pos[0], []string{"bash", "zsh", "fish"}))
		}
	}
	if err != nil {
		return report(stdout, stderr, "completion", err)
	}
	b, err := completionScripts.ReadFile(completionFiles[pos[0]].script)
	if err != nil {
		return report(stdout, stderr, "completion", err)
	}
	stdout.Write(b)
	return exitOK
}
