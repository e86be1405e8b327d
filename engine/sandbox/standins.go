package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zdu-dev/zdu/steps/transport"
)

// Layout is where a node's stand-ins live under its root. The shipped plans
// call product commands by absolute path (Axway) or by name on PATH (nova),
// so the sandbox writes both: install dirs whose names hold a space (a path
// with a space must work), and a bin dir put first on the node's PATH.
type Layout struct {
	Root string
	// Bin holds systemctl, apt-get, sudo and nova-manage stand-ins.
	Bin string
	// OldInstall and NewInstall are the Axway install dirs, each with
	// apigateway/posix/bin/{startinstance,nodemanager} and
	// apigateway/upgrade/bin/sysupgrade.
	OldInstall, NewInstall string
	// State holds the stand-ins' own files: control requests (ctl/),
	// injected failures (fail/), pid files (run/), a log (standins.log).
	State string
}

// Install dir names; both hold a space on purpose.
const (
	oldInstallName = "Axway 7.5.3"
	newInstallName = "Axway 7.7"
)

// NewLayout names the stand-in paths under root.
func NewLayout(root string) Layout {
	return Layout{
		Root: root, Bin: filepath.Join(root, "bin"), State: filepath.Join(root, ".zdu"),
		OldInstall: filepath.Join(root, oldInstallName), NewInstall: filepath.Join(root, newInstallName),
	}
}

// ControlDir is where the service's control requests go.
func (l Layout) ControlDir() string { return filepath.Join(l.State, "ctl") }

// FailDir holds one file per injected failure: its name the failure key,
// its content the exit code.
func (l Layout) FailDir() string { return filepath.Join(l.State, "fail") }

// HoldDir holds one file per hold (see hold.go): its name the key.
func (l Layout) HoldDir() string { return filepath.Join(l.State, "hold") }

// RunDir holds the pid files of the stand-in daemons.
func (l Layout) RunDir() string { return filepath.Join(l.State, "run") }

// Log is where every stand-in call is recorded, one line each.
func (l Layout) Log() string { return filepath.Join(l.State, "standins.log") }

// Failure keys each stand-in checks before doing anything (any one present
// fails it): rehearse's --fail NODE:KEY writes one. FailureKeys (failkeys.go)
// lists them for --fail's check; keep the two in step.
//
//	sysupgrade SUB       SUB, sysupgrade-SUB  (export, upgrade, pre-apply, apply, post-apply)
//	startinstance -d|-k  startinstance, startinstance-d / startinstance-k
//	nodemanager -d|-k    nodemanager, nodemanager-d / nodemanager-k
//	systemctl restart    restart, systemctl-restart
//	apt-get install      upgrade, apt-get (PACKAGE=VERSION installs that version)
//	dpkg-query           (never fails: prints the installed version)
//	nova-manage          nova-manage

// WriteStandIns creates the layout and its scripts. Versions: the old
// install runs oldVersion, the new one newVersion; apt-get installs
// newVersion for systemctl to start.
func WriteStandIns(l Layout, oldVersion, newVersion string) error {
	for _, d := range []string{l.Bin, l.ControlDir(), l.FailDir(), l.HoldDir(), l.RunDir(), filepath.Join(l.State, "state")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("stand-ins under %s: %w", l.Root, err)
		}
	}
	files := map[string]string{
		filepath.Join(l.State, "lib.sh"):                     libScript(l),
		filepath.Join(l.State, "state", "installed-version"): oldVersion + "\n",
		l.Log():                             "",
		filepath.Join(l.Bin, "systemctl"):   binScript(l, systemctlBody),
		filepath.Join(l.Bin, "apt-get"):     binScript(l, aptBody(newVersion)),
		filepath.Join(l.Bin, "sudo"):        binScript(l, sudoBody),
		filepath.Join(l.Bin, "dpkg-query"):  binScript(l, dpkgQueryBody),
		filepath.Join(l.Bin, "nova-manage"): binScript(l, `zdu_fail nova-manage; zdu_log "nova-manage $*"; zdu_hold nova-manage`),
	}
	for _, in := range []struct{ dir, tag, version string }{{l.OldInstall, "old", oldVersion}, {l.NewInstall, "new", newVersion}} {
		posix := filepath.Join(in.dir, "apigateway", "posix", "bin")
		upgrade := filepath.Join(in.dir, "apigateway", "upgrade", "bin")
		for _, d := range []string{posix, upgrade} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("stand-ins under %s: %w", l.Root, err)
			}
		}
		files[filepath.Join(posix, "vshell")] = vshellScript
		files[filepath.Join(posix, "startinstance")] = binScript(l, daemonBody(posix, in.tag+"-gateway", "startinstance", "start "+in.version))
		files[filepath.Join(posix, "nodemanager")] = binScript(l, daemonBody(posix, in.tag+"-nodemanager", "nodemanager", ""))
		files[filepath.Join(upgrade, "sysupgrade")] = binScript(l, sysupgradeBody)
	}
	for path, body := range files {
		if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
			return fmt.Errorf("writing stand-in %s: %w", path, err)
		}
	}
	return nil
}

// InjectFailure makes the stand-in answering key exit with code.
func InjectFailure(l Layout, key string, code int) error {
	if key == "" || strings.ContainsAny(key, "/\x00") {
		return fmt.Errorf("failure key %q: want a stand-in step such as apply or restart", key)
	}
	p := filepath.Join(l.FailDir(), key)
	if err := os.WriteFile(p, []byte(strconv.Itoa(code)+"\n"), 0o644); err != nil {
		return fmt.Errorf("injecting failure %s: %w", key, err)
	}
	return nil
}

func q(s string) string { return transport.Quote(s) }

// libScript is sourced by every stand-in: paths baked in, so a stand-in
// behaves the same whatever environment the plan gives it.
func libScript(l Layout) string {
	return `ZDU_STATE=` + q(l.State) + `
zdu_log() { printf '%s\n' "$*" >> "$ZDU_STATE/standins.log"; }
# zdu_fail KEY...: exit with the injected code of the first key present.
zdu_fail() {
  for k in "$@"; do
    if [ -f "$ZDU_STATE/fail/$k" ]; then
      c=$(cat "$ZDU_STATE/fail/$k")
      zdu_log "FAIL $k exit $c"
      echo "sandbox: injected failure $k (exit $c)" >&2
      exit "$c"
    fi
  done
}
# zdu_ctl COMMAND: ask the sandbox to start/stop/restart the node's service
# and wait for its answer.
zdu_ctl() {
  id="$$.$(date +%s%N)"
  printf '%s\n' "$*" > "$ZDU_STATE/ctl/$id.tmp" && mv "$ZDU_STATE/ctl/$id.tmp" "$ZDU_STATE/ctl/$id.req" || return 1
  i=0
  while [ ! -e "$ZDU_STATE/ctl/$id.res" ]; do
    i=$((i+1))
    if [ $i -gt 1200 ]; then echo "sandbox: the service controller did not answer" >&2; return 1; fi
    sleep 0.05
  done
  read -r code msg < "$ZDU_STATE/ctl/$id.res"
  rm -f "$ZDU_STATE/ctl/$id.res"
  [ -z "$msg" ] || echo "sandbox: $msg" >&2
  return "$code"
}
# zdu_held KEY...: whether a hold is set on one of the keys.
zdu_held() {
  for k in "$@"; do [ -e "$ZDU_STATE/hold/$k" ] && return 0; done
  return 1
}
# zdu_hold KEY...: while a hold is set on one of the keys, wait: the step
# calling this stand-in is caught in its middle until the hold is released.
zdu_hold() {
  for k in "$@"; do
    [ -e "$ZDU_STATE/hold/$k" ] || continue
    zdu_log "HOLD $k"
    w="$ZDU_STATE/hold/.waiting.$k.$$"
    : > "$w"
    while [ -e "$ZDU_STATE/hold/$k" ]; do sleep 0.05; done
    rm -f "$w"
    zdu_log "RELEASED $k"
    return 0
  done
}
# zdu_detached PID: wait until the process started with setsid leads a
# group of its own: until then it is in this command's process group,
# which the SSH server kills once the command's channel closes.
zdu_detached() {
  i=0
  while [ $i -lt 500 ]; do
    g=; read -r _ _ _ _ g _ 2>/dev/null < "/proc/$1/stat" || return 0
    [ "$g" = "$1" ] && return 0
    sleep 0.01; i=$((i+1))
  done
}
# zdu_start VERB VERSION: start (VERB start) or restart the service. With a
# hold on service-start the command returns at once and the service comes
# up once the hold is released, as a unit whose start returns before its
# service listens.
zdu_start() {
  if zdu_held service-start; then
    [ "$1" = restart ] && { zdu_ctl stop || return 1; }
    setsid sh -c '. "$1"; zdu_hold service-start; zdu_ctl start "$2"' zdu-start "$ZDU_STATE/lib.sh" "$2" </dev/null >>"$ZDU_STATE/daemons.log" 2>&1 &
    echo $! > "$ZDU_STATE/run/service-start.$!.pid"
    zdu_detached $!
    return 0
  fi
  zdu_ctl "$1" "$2"
}
`
}

func binScript(l Layout, body string) string {
	return "#!/bin/sh\n# zdu sandbox stand-in\n. " + q(filepath.Join(l.State, "lib.sh")) + "\n" + body + "\n"
}

const sysupgradeBody = `sub=$1
[ -n "$sub" ] || { echo "usage: sysupgrade export|upgrade|pre-apply|apply|post-apply [options]" >&2; exit 2; }
case $sub in export|upgrade|pre-apply|apply|post-apply) ;; *) echo "sysupgrade: unknown command $sub" >&2; exit 2;; esac
zdu_fail "$sub" "sysupgrade-$sub"
zdu_log "sysupgrade $*"
zdu_hold "$sub" "sysupgrade-$sub"
echo "sysupgrade $sub: done"
date > "$ZDU_STATE/state/sysupgrade-$sub"`

// daemonBody is startinstance or nodemanager: -d starts a marker process
// whose command line holds the install dir (what wait-process looks for)
// in a session of its own, so it outlives the SSH command; -k stops it.
// ctlStart, when set, is the service control command run by -d (-k stops
// the service first, gracefully).
func daemonBody(posix, name, cmd, ctlStart string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `pidf="$ZDU_STATE/run/%s.pid"
mode=
for a in "$@"; do case $a in -d) mode=d;; -k) mode=k;; esac; done
[ -n "$mode" ] || { echo "usage: %s [-n NAME -g GROUP] -d|-k" >&2; exit 2; }
zdu_fail %s "%s-$mode"
zdu_log "%s $*"
if [ "$mode" = d ]; then
  if [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; then
    echo "%s already running"
  else
    setsid %s %s "$@" </dev/null >>"$ZDU_STATE/daemons.log" 2>&1 &
    echo $! > "$pidf"
    zdu_detached $!
  fi
`, name, cmd, cmd, cmd, cmd, name, q(filepath.Join(posix, "vshell")), name)
	fmt.Fprintf(&b, "  zdu_hold %s \"%s-$mode\"\n", cmd, cmd)
	if ctlStart != "" {
		fmt.Fprintf(&b, "  zdu_start %s || exit 1\n", ctlStart)
	}
	b.WriteString("  echo \"" + name + " started\"\nelse\n")
	if ctlStart != "" {
		b.WriteString("  zdu_ctl stop || exit 1\n")
	}
	fmt.Fprintf(&b, "  zdu_hold %s \"%s-$mode\"\n", cmd, cmd)
	b.WriteString(`  if [ -f "$pidf" ]; then kill "$(cat "$pidf")" 2>/dev/null; rm -f "$pidf"; fi
  echo "` + name + ` stopped"
fi`)
	return b.String()
}

// vshellScript is the marker process: it only waits to be killed.
const vshellScript = `#!/bin/sh
trap 'kill $s 2>/dev/null; exit 0' TERM INT HUP
while :; do sleep 1 & s=$!; wait $s; done
`

const systemctlBody = `verb=$1
case $verb in
  restart|start|reload|try-restart)
    zdu_fail restart "systemctl-$verb"
    zdu_log "systemctl $*"
    if zdu_held restart "systemctl-$verb"; then
      zdu_ctl stop || exit 1
      zdu_hold restart "systemctl-$verb"
    fi
    zdu_start restart "$(cat "$ZDU_STATE/state/installed-version")" ;;
  stop)
    zdu_fail "systemctl-stop"
    zdu_log "systemctl $*"
    zdu_ctl stop || exit 1
    zdu_hold "systemctl-stop" ;;
  is-active|status)
    zdu_ctl status && echo active || { echo inactive; exit 3; } ;;
  *)
    zdu_fail "systemctl-$verb"
    zdu_log "systemctl $*" ;;
esac`

func aptBody(newVersion string) string {
	return `zdu_fail upgrade apt-get
zdu_log "apt-get $*"
zdu_hold upgrade apt-get
case " $* " in *" install "*)
  v=` + q(newVersion) + `
  # PACKAGE=VERSION pins a version (a downgrade, in a rollback).
  for a in "$@"; do case $a in -*) ;; *=*) v=${a#*=};; esac; done
  printf '%s\n' "$v" > "$ZDU_STATE/state/installed-version"; echo "installed $v";;
esac`
}

// dpkgQueryBody answers dpkg-query -W -f='${Version}' PACKAGE with the
// installed version (whatever the package and format).
const dpkgQueryBody = `zdu_log "dpkg-query $*"
tr -d '\n' < "$ZDU_STATE/state/installed-version"`

// sudoBody runs the command as the node user: the sandbox has no one else.
const sudoBody = `while [ $# -gt 0 ]; do
  case $1 in
    --) shift; break;;
    -u|-g) shift 2;;
    -*) shift;;
    *) break;;
  esac
done
exec "$@"`

// KillDaemons ends the marker processes the stand-ins started on the node
// (they live in sessions of their own, so nothing else ends them).
func KillDaemons(l Layout) error {
	ents, err := os.ReadDir(l.RunDir())
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("stand-in daemons of %s: %w", l.Root, err)
	}
	var pids []int
	for _, e := range ents {
		p := filepath.Join(l.RunDir(), e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 && syscall.Kill(pid, syscall.SIGTERM) == nil {
			pids = append(pids, pid)
		}
		_ = os.Remove(p)
	}
	// Gone before this returns: a torn-down sandbox leaves no process.
	for i := 0; len(pids) > 0; i++ {
		left := pids[:0]
		for _, pid := range pids {
			if syscall.Kill(pid, 0) == nil {
				left = append(left, pid)
			}
		}
		pids = left
		if len(pids) == 0 {
			break
		}
		if i == 100 { // 5s
			for _, pid := range pids {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if i > 200 {
			return fmt.Errorf("stand-in daemons of %s did not end: %v", l.Root, pids)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}
