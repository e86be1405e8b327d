#!/usr/bin/env bash
# Rolling-run benchmark over real OpenSSH sshd on loopback.
#
# Starts NODES sshd on 127.0.0.1 (temporary host keys, one client key,
# known_hosts checked by every contender) and times the same rolling run:
# node by node (serial: 1), STEPS trivial commands per node, one connection
# per node, three ways:
#   (a) zdu     — zdu's SSH transport (steps/transport/ssh), connections
#                 opened up front in parallel by ssh.Preflight as zdu run does
#   (b) bare    — a bare golang.org/x/crypto/ssh loop, the floor, same shape
#   (a', b')    — zdu_serial, bare_serial: each node connected on its turn
#   (c) ansible — ansible-playbook, pipelining on, serial: 1, `command` module
# Rounds are interleaved (round 1 of every contender, then round 2, ...), so
# a change of the machine's load hits every contender alike; each
# contender's min and median wall clock are reported, with the load average
# before and after, and the ratios of the minima and of the medians.
#
# Usage: .bench/ssh/run.sh            (as root: logs in as zdu-sshtest, see below)
#        NODES=10 RUNS=3 .bench/ssh/run.sh
#        NODES=10 STEPS=20 CONTENDERS="zdu_run bare ansible" .bench/ssh/run.sh
# STEPS repeats the five commands up to that many per node (default 5).
# To add a contender (e.g. a full `zdu run`), add a function like run_zdu
# and a line to the CONTENDERS list at the bottom.
set -euo pipefail

NODES=${NODES:-10}
RUNS=${RUNS:-3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/zdu-bench-ssh.XXXXXX)
chmod 755 "$WORK"
BASE_COMMANDS=("echo one" "true" "hostname" "test -d /tmp" "date +%s")
STEPS=${STEPS:-5}
COMMANDS=()
for i in $(seq 0 $((STEPS - 1))); do COMMANDS+=("${BASE_COMMANDS[$((i % 5))]}"); done

# As root, log in as an ordinary /bin/sh account: root's ~/.bashrc runs for
# every ssh command and, on machines with pyenv & co., costs seconds each,
# which would measure the .bashrc rather than the transports.
if [ "$(id -u)" = 0 ]; then
	BENCH_USER=${BENCH_USER:-zdu-sshtest}
	id -u "$BENCH_USER" >/dev/null 2>&1 || useradd -m -s /bin/sh -p '*' "$BENCH_USER"
	mkdir -p /run/sshd
else
	BENCH_USER=${BENCH_USER:-$(id -un)}
fi

PIDS=()
cleanup() {
	# Ansible's ControlPersist masters would otherwise linger for a minute.
	for s in "$WORK"/cp/*; do
		[ -S "$s" ] && ssh -o ControlPath="$s" -O exit bench >/dev/null 2>&1 || true
	done
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

ssh-keygen -q -t ed25519 -N '' -C bench -f "$WORK/id_client"
cp "$WORK/id_client.pub" "$WORK/authorized_keys"
chmod 644 "$WORK/authorized_keys"
: >"$WORK/known_hosts"
: >"$WORK/nodes"
for i in $(seq 1 "$NODES"); do
	d="$WORK/node$i"
	mkdir -p "$d"
	ssh-keygen -q -t ed25519 -N '' -f "$d/host_ed25519"
	ssh-keygen -q -t ecdsa -N '' -f "$d/host_ecdsa"
	port=$(free_port)
	cat >"$d/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $d/host_ed25519
HostKey $d/host_ecdsa
AuthorizedKeysFile $WORK/authorized_keys
PidFile none
StrictModes no
UsePAM no
UseDNS no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
MaxStartups 100:30:200
CONF
	/usr/sbin/sshd -D -e -f "$d/sshd_config" 2>"$d/sshd.log" &
	PIDS+=($!)
	echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$d/host_ed25519.pub")" >>"$WORK/known_hosts"
	echo "127.0.0.1:$port" >>"$WORK/nodes"
	echo "node$i ansible_host=127.0.0.1 ansible_port=$port" >>"$WORK/hosts.ini"
done
# Wait for every banner.
while read -r addr; do
	for _ in $(seq 1 100); do
		if timeout 1 bash -c "exec 3<>/dev/tcp/${addr%:*}/${addr#*:}; head -c 7 <&3" 2>/dev/null | grep -q SSH-2.0; then break; fi
		sleep 0.05
	done
done <"$WORK/nodes"

(cd "$ROOT" && go build -o "$WORK/rolling" ./.bench/ssh/rolling)
joined=$(printf '%s;;' "${COMMANDS[@]}")
joined=${joined%;;}

# rolling MODE CONNECT: zdu's transport or bare x/crypto; connections opened
# in parallel up front (zdu's preflight) or serially on each node's turn.
rolling() {
	"$WORK/rolling" -mode "$1" -connect "$2" -nodes "$WORK/nodes" -user "$BENCH_USER" \
		-key "$WORK/id_client" -known-hosts "$WORK/known_hosts" -commands "$joined"
}
run_zdu() { rolling transport parallel; }

# The full product: `zdu run` of a serial plan with the same commands, the
# journal synced to disk before every action, node logs and summary written.
(cd "$ROOT" && go build -o "$WORK/zdu" ./cmd/zdu)
{
	echo "apiVersion: zdu/v1"
	echo "name: bench"
	echo "phases:"
	echo "  - id: rolling"
	echo "    targets: all"
	echo "    strategy: serial"
	echo "    steps:"
	i=0
	for c in "${COMMANDS[@]}"; do
		i=$((i + 1))
		echo "      - {id: c$i, type: ssh-exec, with: {command: '$c'}}"
	done
} >"$WORK/plan.yaml"
{
	echo "apiVersion: zdu/v1"
	echo "kind: Inventory"
	echo "defaults: {user: $BENCH_USER}"
	echo "ssh: {knownHosts: [$WORK/known_hosts], identityFiles: [$WORK/id_client], config: none}"
	echo "nodes:"
	n=0
	while read -r addr; do
		n=$((n + 1))
		echo "  - {name: node$n, host: ${addr%:*}, port: ${addr#*:}}"
	done <"$WORK/nodes"
} >"$WORK/inventory.yaml"
run_zdu_run() {
	local t0 t1 dir
	dir=$(mktemp -d "$WORK/run.XXXXXX")
	rmdir "$dir"
	t0=$(date +%s.%N)
	"$WORK/zdu" run "$WORK/plan.yaml" -i "$WORK/inventory.yaml" --run-dir "$dir" --log-format json >"$WORK/zdu.out" 2>"$WORK/zdu.err" ||
		{ cat "$WORK/zdu.out" "$WORK/zdu.err" >&2; return 1; }
	t1=$(date +%s.%N)
	python3 -c "print('%.3f' % ($t1 - $t0))"
}
run_bare() { rolling bare parallel; }
run_zdu_serial() { rolling transport serial; }
run_bare_serial() { rolling bare serial; }

{
	echo "[all:vars]"
	echo "ansible_user=$BENCH_USER"
	echo "ansible_ssh_private_key_file=$WORK/id_client"
	echo "ansible_python_interpreter=/usr/bin/python3"
	echo "ansible_ssh_common_args=-o UserKnownHostsFile=$WORK/known_hosts -o StrictHostKeyChecking=yes"
} >>"$WORK/hosts.ini"
{
	echo "- hosts: all"
	echo "  gather_facts: false"
	echo "  serial: 1"
	echo "  tasks:"
	for c in "${COMMANDS[@]}"; do
		echo "    - command: '$c'"
	done
} >"$WORK/playbook.yml"
cat >"$WORK/ansible.cfg" <<CFG
[defaults]
host_key_checking = True
forks = 1
[ssh_connection]
pipelining = True
control_path_dir = $WORK/cp
CFG

run_ansible() {
	local t0 t1
	t0=$(date +%s.%N)
	ANSIBLE_CONFIG="$WORK/ansible.cfg" ansible-playbook -i "$WORK/hosts.ini" "$WORK/playbook.yml" >"$WORK/ansible.log" 2>&1 ||
		{ cat "$WORK/ansible.log" >&2; return 1; }
	t1=$(date +%s.%N)
	python3 -c "print('%.3f' % ($t1 - $t0))"
}

read -r -a CONTENDERS <<<"${CONTENDERS:-zdu_run zdu bare zdu_serial bare_serial ansible}"
declare -A TIMES
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for _ in $(seq 1 "$RUNS"); do
	for c in "${CONTENDERS[@]}"; do
		TIMES[$c]+="$("run_$c") "
	done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
echo "rolling run: $NODES nodes x ${#COMMANDS[@]} commands, serial, $RUNS interleaved rounds, $(nproc) cores, user $BENCH_USER"
echo "load average before: $LOAD_BEFORE, after: $LOAD_AFTER"
args=()
for c in "${CONTENDERS[@]}"; do args+=("$c=${TIMES[$c]}"); done
python3 - "${args[@]}" <<'PY'
import statistics, sys
t = {}
for a in sys.argv[1:]:
    name, vals = a.split("=", 1)
    t[name] = [float(v) for v in vals.split()]
mn = {k: min(v) for k, v in t.items()}
md = {k: statistics.median(v) for k, v in t.items()}
print(f"  {'contender':<12} {'min s':>8} {'median s':>9}   rounds")
for k in t:
    print(f"  {k:<12} {mn[k]:8.3f} {md[k]:9.3f}   " + " ".join(f"{v:.3f}" for v in t[k]))
def ratio(a, b, what):
    if a in t and b in t:
        print(f"  {a + ' / ' + b:<26} min {mn[a] / mn[b]:6.2f}x   median {md[a] / md[b]:6.2f}x   ({what})")
ratio("ansible", "zdu_run", "the full product")
ratio("zdu_run", "bare", "whole runs incl. journal fsync, logs, summary")
ratio("zdu", "bare", "the transport alone")
ratio("zdu_serial", "bare_serial", "connecting on each turn")
ratio("ansible", "zdu", "")
PY
