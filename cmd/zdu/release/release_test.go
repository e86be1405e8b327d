package release

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/zdu-dev/zdu/cmd/zdu/completetest"
	"github.com/zdu-dev/zdu/steps/lb/lbtest"
	"github.com/zdu-dev/zdu/steps/lb/loopback"
)

// The release build's tests run .release/build.sh, the documented command,
// as a release manager would. They take minutes (two builds for two
// architectures): not with -short.

// installedLibrary is where the package puts the plans and lib/ (cmd/zdu
// searches it for templates).
const installedLibrary = "/usr/share/zdu/plans"

func releaseScript(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("the release build takes minutes: not with -short")
	}
	for _, tool := range []string{"bash", "git", "dpkg-deb", "gzip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s here: %v", tool, err)
		}
	}
	if err := exec.Command("git", "rev-parse", "HEAD").Run(); err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	s, err := filepath.Abs(filepath.Join("..", "..", "..", ".release", "build.sh"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestReleaseReproducible: two release builds of this commit, into two
// directories, give byte-identical binaries (linux/amd64, linux/arm64) and
// Debian packages. The second build shares the first's Go build cache (it
// links and packages again; build.sh --check --fresh-cache, by hand,
// compiles everything again too, minutes more).
func TestReleaseReproducible(t *testing.T) {
	script := releaseScript(t)
	cmd := exec.Command("bash", script, "--check")
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("build.sh --check: %v", err)
	}
	for _, want := range []string{"identical: linux-amd64/zdu", "identical: linux-arm64/zdu", "_amd64.deb", "_arm64.deb", "reproducible: both builds are byte-identical"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("build.sh --check did not report %q", want)
		}
	}
}

// TestPackageInstalled is the package's done-when: build it, install it
// with dpkg -i, and from the installed files alone (PATH of /usr/bin and
// /bin, an empty home, a working directory of its own) run zdu --version,
// rehearse the shipped nova plan, complete through bash's complete, and
// render man zdu; then purge it, whatever happened. Only as root, and only
// where no zdu package is installed already (it is not ours to remove).
func TestPackageInstalled(t *testing.T) {
	script := releaseScript(t)
	if os.Geteuid() != 0 {
		t.Skip("dpkg -i needs root (CI runs as root): the package is built, installed and purged only there")
	}
	if out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", "zdu").Output(); err == nil && strings.Contains(string(out), "installed") {
		t.Skipf("a zdu package is installed on this machine already (%s): not replacing it", out)
	}
	for _, p := range []string{"/usr/bin/zdu", installedLibrary} {
		if _, err := os.Lstat(p); err == nil {
			t.Skipf("%s exists and belongs to no zdu package: not overwriting it", p)
		}
	}
	lbtest.Need(t, loopback.HAProxyPath, "haproxy")

	dist := t.TempDir()
	build := exec.Command("bash", script, "--arch", runtime.GOARCH, "--out", dist)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build.sh: %v\n%s", err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(dist, "zdu_*_"+runtime.GOARCH+".deb"))
	if len(debs) != 1 {
		t.Fatalf("packages built: %v, want one", debs)
	}
	version := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(debs[0]), "zdu_"), "_"+runtime.GOARCH+".deb")

	t.Cleanup(func() {
		if out, err := exec.Command("dpkg", "--purge", "zdu").CombinedOutput(); err != nil {
			t.Errorf("dpkg --purge zdu: %v\n%s", err, out)
		}
		for _, p := range []string{"/usr/bin/zdu", installedLibrary, "/usr/share/man/man1/zdu.1.gz", "/usr/share/bash-completion/completions/zdu", "/usr/share/doc/zdu"} {
			if _, err := os.Lstat(p); err == nil {
				t.Errorf("%s is left after dpkg --purge", p)
			}
		}
	})
	if out, err := exec.Command("dpkg", "-i", debs[0]).CombinedOutput(); err != nil {
		t.Fatalf("dpkg -i: %v\n%s", err, out)
	}
	listed, err := exec.Command("dpkg", "-L", "zdu").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/usr/bin/zdu", "/usr/share/zdu/plans/nova-api.yaml", "/usr/share/zdu/plans/lib/lb-drain.yaml",
		"/usr/share/bash-completion/completions/zdu", "/usr/share/zsh/vendor-completions/_zdu", "/usr/share/fish/vendor_completions.d/zdu.fish",
		"/usr/share/man/man1/zdu.1.gz", "/usr/share/doc/zdu/changelog.Debian.gz", "/usr/share/doc/zdu/copyright"} {
		if !strings.Contains(string(listed), p+"\n") {
			t.Errorf("dpkg -L zdu does not list %s", p)
		} else if _, err := os.Stat(p); err != nil {
			t.Errorf("%s listed but not installed: %v", p, err)
		}
	}

	// The installed files alone: nothing of the checkout or of go.
	home := t.TempDir()
	installed := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(name, args...)
		cmd.Dir = t.TempDir()
		cmd.Env = []string{"PATH=/usr/bin:/bin:/usr/sbin:/sbin", "HOME=" + home, "LANG=C.UTF-8", "ZDU_STATE=" + filepath.Join(home, "state")}
		return cmd
	}

	head, _ := exec.Command("git", "rev-parse", "HEAD").Output()
	out, err := installed("zdu", "--version").Output()
	if err != nil || !strings.HasPrefix(string(out), "zdu "+version+" revision "+strings.TrimSpace(string(head))) {
		t.Errorf("zdu --version = %q (%v), want version %s and revision %s", out, err, version, head)
	}

	// A probe request may take long on a loaded machine: a latency, not a
	// failure (as in the rehearse tests).
	reh := installed("zdu", "rehearse", "/usr/share/zdu/plans/nova-api.yaml", "--nodes", "2", "--probe-timeout", "30s", "--log-format", "text")
	out, err = reh.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "error budget met") || !strings.Contains(string(out), "node-2 v2") {
		t.Errorf("zdu rehearse /usr/share/zdu/plans/nova-api.yaml --nodes 2: %v\n%s", err, tail(string(out), 4000))
	}

	// A plan away from the library finds lib/ where the package put it.
	plan := filepath.Join(t.TempDir(), "nova.yaml")
	b, _ := os.ReadFile("/usr/share/zdu/plans/nova-api.yaml")
	os.WriteFile(plan, b, 0o644)
	if out, err := installed("zdu", "validate", plan).CombinedOutput(); err != nil {
		t.Errorf("zdu validate of a copy of nova-api.yaml (lib/ from %s): %v\n%s", installedLibrary, err, out)
	}

	// Bash, as at a TAB: the installed completion, the installed zdu.
	bin := filepath.Dir("/usr/bin/zdu")
	setup := "source /usr/share/bash-completion/completions/zdu"
	if got := completetest.Bash(t, installed("bash"), bin, setup, "zdu re"); got != "rehearse report resume" {
		t.Errorf("bash: zdu re<TAB> = %q", got)
	}
	if got := completetest.Bash(t, installed("bash"), bin, setup, "zdu rehearse /usr/share/zdu/plans/nova-api.yaml --set upg"); got != "upgrade_command=" {
		t.Errorf("bash: zdu rehearse nova-api.yaml --set upg<TAB> = %q", got)
	}

	if _, err := exec.LookPath("man"); err != nil {
		if os.Getenv("CI") != "" {
			t.Errorf("no man on CI (.ci/run installs man-db): %v", err)
		} else {
			t.Logf("no man here (apt-get install man-db): man zdu not rendered")
		}
		return
	}
	man := installed("man", "zdu")
	man.Env = append(man.Env, "MANPAGER=cat", "PAGER=cat", "MANWIDTH=100")
	out, err = man.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "zdu - declarative zero-downtime upgrades") || !strings.Contains(string(out), "zdu rehearse PLAN") {
		t.Errorf("man zdu: %v\n%s", err, tail(string(out), 3000))
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
