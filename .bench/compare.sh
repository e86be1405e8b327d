#!/usr/bin/env bash
# zdu against ansible-playbook and a bare x/crypto/ssh loop over real OpenSSH
# sshd on loopback, in the shapes issue 19 asks for: 10 nodes x 5 steps,
# 10 nodes x 20 steps, 50 nodes x 3 steps, serial. Each shape is one run of
# .bench/ssh/run.sh (interleaved rounds, min and median, load average); see
# there for the contenders. Ansible runs with pipelining on and its default
# ControlPersist (ControlMaster=auto, ControlPersist=60s).
#
# Usage: .bench/compare.sh                 (as root; needs openssh-server and ansible)
#        RUNS=5 .bench/compare.sh
#        CONTENDERS="zdu_run zdu bare ansible" .bench/compare.sh
set -euo pipefail
here=$(dirname "$0")
export RUNS=${RUNS:-3}
export CONTENDERS=${CONTENDERS:-zdu_run bare ansible}
for shape in "10 5" "10 20" "50 3"; do
	read -r nodes steps <<<"$shape"
	echo "=== $nodes nodes x $steps steps"
	NODES=$nodes STEPS=$steps bash "$here/ssh/run.sh"
done
