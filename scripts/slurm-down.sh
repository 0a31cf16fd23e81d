#!/usr/bin/env bash
# Stops the daemons scripts/slurm-up.sh started, by the pids in their pid files (never by name).
SLURM_DIR=${SLURM_DIR:-${TMPDIR:-/tmp}/dprep-slurm}
pids=("$SLURM_DIR"/slurmd-*.pid "$SLURM_DIR/slurmctld.pid")
[[ -f $SLURM_DIR/munged.ours ]] && pids+=("$SLURM_DIR/munged.pid")
for f in "${pids[@]}"; do
  [[ -s $f ]] || continue
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then echo "slurm-down: $pid ($f) still alive, sending KILL"; kill -KILL "$pid"; fi
  fi
  rm -f "$f"
done
rm -f "$SLURM_DIR/munged.ours"
echo "slurm down ($SLURM_DIR)"
