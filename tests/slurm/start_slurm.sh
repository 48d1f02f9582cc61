#!/usr/bin/env bash
# A single-node Slurm shaped like a MeluXina GPU node, for `make slurm-test` (as root):
# Debian's slurm-wlm + munge, partitions `cpu` and `gpu`, 4 fake GPUs as GRES (character devices
# made with mknod), the node claiming 128 cores / 512 GB through SlurmdParameters=config_overrides,
# no accounting DB (MinJobAge kept high so `squeue` still sees finished jobs).
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "start_slurm.sh must run as root" >&2; exit 1; }
command -v slurmctld >/dev/null && command -v munged >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null; }

STATE=/var/tmp/arkivlm-slurm
HOST=$(hostname -s)
mkdir -p "$STATE/state" "$STATE/spool" /etc/slurm /run/munge
if scontrol ping 2>/dev/null | grep -q "is UP" && sinfo -h -o %T 2>/dev/null | grep -qE "idle|mix|alloc"; then
  echo "slurm already up"; exit 0
fi

# munge
[ -s /etc/munge/munge.key ] || { dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null; }
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
chmod 700 /etc/munge; chmod 400 /etc/munge/munge.key
pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged --force

# fake GPUs
for i in 0 1 2 3; do [ -e /dev/nvidia$i ] || mknod -m 666 /dev/nvidia$i c 195 $i; done

cat > /etc/slurm/slurm.conf <<CONF
ClusterName=arkivlm-test
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
StateSaveLocation=$STATE/state
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=5
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=86400
JobRequeue=1
# A requeued job waits cred_expire seconds before it may start again (default 120).
AuthInfo=cred_expire=10
KillWait=15
InactiveLimit=0
GresTypes=gpu
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
NodeName=$HOST CPUs=128 Boards=1 SocketsPerBoard=2 CoresPerSocket=64 ThreadsPerCore=1 RealMemory=512000 Gres=gpu:4 State=UNKNOWN
PartitionName=cpu Nodes=$HOST Default=YES MaxTime=2-00:00:00 State=UP OverSubscribe=FORCE:4
PartitionName=gpu Nodes=$HOST MaxTime=2-00:00:00 State=UP OverSubscribe=FORCE:4
CONF
cat > /etc/slurm/gres.conf <<CONF
NodeName=$HOST Name=gpu File=/dev/nvidia[0-3]
CONF

pgrep -x slurmctld >/dev/null || /usr/sbin/slurmctld -c
pgrep -x slurmd >/dev/null || /usr/sbin/slurmd -c
for _ in $(seq 60); do
  if sinfo -h -o %T 2>/dev/null | grep -qE "^(idle|mix|alloc)"; then sinfo; exit 0; fi
  scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true
  sleep 1
done
echo "slurm did not come up; see $STATE/*.log" >&2
tail -20 "$STATE/slurmctld.log" "$STATE/slurmd.log" >&2 || true
exit 1
