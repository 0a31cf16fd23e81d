#!/usr/bin/env bash
# A throwaway Slurm cluster on this machine, for tests and the scaling benchmark: munged, slurmctld
# and one slurmd per node, as root, without systemd. Config, state, spool, logs and pid files live
# under $SLURM_DIR (nothing in /etc is written but the munge key the munge package expects).
#   SLURM_DIR=/tmp/dprep-slurm scripts/slurm-up.sh            # one node "localhost", CPUs = nproc
#   NODES=2 CPUS=1 scripts/slurm-up.sh                          # nodes n1, n2 (CPUs=1 each, own ports)
# Then: export SLURM_CONF=$SLURM_DIR/slurm.conf. scripts/slurm-down.sh stops what this started, by pid.
set -euo pipefail
SLURM_DIR=${SLURM_DIR:-${TMPDIR:-/tmp}/dprep-slurm}
NODES=${NODES:-1}
CPUS=${CPUS:-$(nproc)}
PORT=${SLURM_PORT:-6817}
t0=$(date +%s.%N)
mkdir -p "$SLURM_DIR"/{state,spool,log}

# munge: the key the package made (or a new one), and /run/munge, which systemd would create.
if [[ ! -s /etc/munge/munge.key ]]; then
  mungekey --create --force 2>/dev/null || dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
  chown munge:munge /etc/munge/munge.key
  chmod 0600 /etc/munge/munge.key
fi
install -d -o munge -g munge -m 0755 /run/munge
if ! { munge -n | unmunge; } >/dev/null 2>&1; then
  # In the foreground, behind runuser (which passes TERM on), so its pid is known: munged writes none here.
  setsid runuser -u munge -- /usr/sbin/munged --foreground --num-threads 2 </dev/null >>"$SLURM_DIR/log/munged.log" 2>&1 &
  echo $! > "$SLURM_DIR/munged.pid"
  echo started > "$SLURM_DIR/munged.ours"
fi
for _ in $(seq 50); do munge -n | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
munge -n | unmunge >/dev/null

MEM=$(awk '/MemTotal/ {print int($2 / 1024 * 0.8 / '"$NODES"')}' /proc/meminfo)
if [[ $NODES == 1 ]]; then
  names=(localhost)
else
  names=(); for i in $(seq "$NODES"); do names+=("n$i"); done
fi
{
  cat <<CONF
ClusterName=dprep-ci
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MailProg=/bin/true
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$SLURM_DIR/log/jobcomp.txt
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,bf_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=3600
MessageTimeout=20
SlurmctldPort=$PORT
StateSaveLocation=$SLURM_DIR/state
SlurmdSpoolDir=$SLURM_DIR/spool/%n
SlurmctldPidFile=$SLURM_DIR/slurmctld.pid
SlurmdPidFile=$SLURM_DIR/slurmd-%n.pid
SlurmctldLogFile=$SLURM_DIR/log/slurmctld.log
SlurmdLogFile=$SLURM_DIR/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
CONF
  for i in "${!names[@]}"; do
    echo "NodeName=${names[$i]} NodeHostname=localhost NodeAddr=127.0.0.1 Port=$((PORT + 1 + i)) CPUs=$CPUS RealMemory=$MEM State=UNKNOWN"
  done
  echo "PartitionName=debug Nodes=$(IFS=,; echo "${names[*]}") Default=YES MaxTime=INFINITE State=UP"
  # With several nodes, "first" holds only the first: the same cluster run on one node.
  [[ $NODES == 1 ]] || echo "PartitionName=first Nodes=${names[0]} Default=NO MaxTime=INFINITE State=UP"
} > "$SLURM_DIR/slurm.conf"
export SLURM_CONF="$SLURM_DIR/slurm.conf"

# -c: start from empty state (each run clean); -i: ignore state files that do not match.
/usr/sbin/slurmctld -f "$SLURM_CONF" -c -i
for n in "${names[@]}"; do
  mkdir -p "$SLURM_DIR/spool/$n"
  /usr/sbin/slurmd -f "$SLURM_CONF" -N "$n"
done

for _ in $(seq 300); do
  idle=$(sinfo -h -N -o '%N %T' 2>/dev/null | awk '$2 == "idle"' | wc -l)
  [[ $idle -ge $NODES ]] && break
  sleep 0.1
done
sinfo -N
if [[ $idle -lt $NODES ]]; then echo "slurm-up: only $idle of $NODES nodes idle; see $SLURM_DIR/log" >&2; exit 1; fi
echo "slurm up in $(awk "BEGIN {print $(date +%s.%N) - $t0}") s; export SLURM_CONF=$SLURM_CONF"
