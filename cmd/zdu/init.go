package main

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"
)

// zdu init scaffolds a new product's plan from a skeleton built on the
// shipped template library: the plan, an example inventory and the
// rehearsal file, each commented where the operator has to change it.

//go:embed initdata
var initData embed.FS

// initTemplate is a skeleton zdu init --from can start from.
type initTemplate struct{ name, summary string }

// initTemplates are the skeletons, the first the default; each is a
// directory of initdata holding plan.yaml, inventory.yaml, rehearsal.yaml.
var initTemplates = []initTemplate{
	{"apt", "a Debian package and its systemd service behind HAProxy, upgraded node by node with apt; rollback downgrades"},
}

var planNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

func cmdInit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	var names []string
	for _, t := range initTemplates {
		names = append(names, t.name)
	}
	from := fs.String("from", initTemplates[0].name, "the skeleton to start from: "+strings.Join(names, " or "))
	name := fs.String("name", "", "the plan's name, and its files' (default: DIR's name)")
	pos, err := parseInterleaved(fs, args)
	if err == nil && len(pos) != 1 {
		err = badUsage("expected one DIR, got %d arguments", len(pos))
	}
	if err == nil {
		err = oneOf("from", *from, names...)
	}
	if err != nil {
		return report(stdout, stderr, "init", err)
	}
	dir := pos[0]
	if *name == "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return report(stdout, stderr, "init", err)
		}
		*name = strings.ToLower(filepath.Base(abs))
	}
	if !planNameRE.MatchString(*name) {
		return report(stdout, stderr, "init", badUsage("%q is not a plan name (lower-case letters, digits, '.', '_' and '-', starting with a letter or digit): give one with --name", *name))
	}
	files, err := scaffold(*from, *name)
	if err != nil {
		return report(stdout, stderr, "init", err)
	}
	// Never overwrite: an operator's plan is not ours to replace.
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if _, err := os.Lstat(p); err == nil {
			return report(stdout, stderr, "init", badUsage("%s exists already; zdu init writes only new files (choose another DIR or --name)", p))
		} else if !errors.Is(err, os.ErrNotExist) {
			return report(stdout, stderr, "init", err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return report(stdout, stderr, "init", err)
	}
	var written []string
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := writeNew(p, f.data); err != nil {
			for _, w := range written {
				os.Remove(w)
			}
			return report(stdout, stderr, "init", err)
		}
		written = append(written, p)
	}
	plan, inv := filepath.Join(dir, files[0].name), filepath.Join(dir, files[1].name)
	fmt.Fprintf(stdout, "wrote %s\n", strings.Join(written, ", "))
	fmt.Fprintf(stdout, "next: change the lines marked CHANGE, then\n")
	fmt.Fprintf(stdout, "  zdu validate %s -i %s\n", plan, inv)
	fmt.Fprintf(stdout, "  zdu plan %s -i %s\n", plan, inv)
	fmt.Fprintf(stdout, "  zdu rehearse %s\n", plan)
	return exitOK
}

type scaffoldFile struct {
	name string
	data []byte
}

// scaffold renders skeleton from for a plan called name: NAME.yaml,
// NAME.inventory.yaml, NAME.rehearsal.yaml, in that order.
func scaffold(from, name string) ([]scaffoldFile, error) {
	var out []scaffoldFile
	for _, part := range []struct{ src, dst string }{
		{"plan.yaml", name + ".yaml"},
		{"inventory.yaml", name + ".inventory.yaml"},
		{"rehearsal.yaml", name + ".rehearsal.yaml"},
	} {
		src, err := initData.ReadFile("initdata/" + from + "/" + part.src)
		if err != nil {
			return nil, err
		}
		// [[ ]]: the plans' own ${{ }} stay as written.
		t, err := template.New(part.src).Delims("[[", "]]").Option("missingkey=error").Parse(string(src))
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		if err := t.Execute(&b, struct{ Name string }{name}); err != nil {
			return nil, err
		}
		out = append(out, scaffoldFile{part.dst, b.Bytes()})
	}
	return out, nil
}

// writeNew writes a file that must not exist yet.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
