/**
 * Fake `sbatch` and `scontrol` for the executor tests that run without Slurm: sbatch records each
 * call and runs the script's array tasks at once, one after another (as a one-CPU cluster would),
 * keeping each task's state for scontrol to print. `preempt-U` in the fake's dir makes unit U's
 * first task PREEMPTED without running; `linger-U` leaves unit U's task COMPLETING (requeued once)
 * after it ran, as a real task is for a moment after its unit commits; `hold` makes sbatch only queue the job (PENDING) until
 * `runHeldJob` runs it.
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';

const RUN_TASKS = `
run_tasks() {  # job-id script
  local n=$1 script=$2 array part a b t rc st rs
  array=$(sed -n 's/^#SBATCH --array=\\([^%]*\\)%.*/\\1/p' "$script")
  : > "$d/state-$n"
  for part in \${array//,/ }; do
    a=\${part%-*}; b=\${part#*-}
    for ((t = a; t <= b; t++)); do
      if [[ -f $d/preempt-$t && ! -f $d/preempted-$t ]]; then
        touch "$d/preempted-$t"
        echo "JobId=$n$t ArrayJobId=$n ArrayTaskId=$t JobState=PREEMPTED Reason=None ExitCode=0:0 Restarts=0 BatchHost=fake" >> "$d/state-$n"
        continue
      fi
      SLURM_ARRAY_JOB_ID=$n SLURM_ARRAY_TASK_ID=$t SLURM_JOB_ID=$n$t bash "$script" > "$d/out-$n-$t.log" 2>&1; rc=$?
      st=COMPLETED; [[ $rc -ne 0 ]] && st=FAILED
      rs=0
      # linger-U: the task was requeued once and is still finishing (COMPLETING) when the runner looks.
      if [[ -f $d/linger-$t ]]; then st=COMPLETING; rs=1; fi
      echo "JobId=$n$t ArrayJobId=$n ArrayTaskId=$t JobState=$st Reason=None ExitCode=$rc:0 Restarts=$rs BatchHost=fake" >> "$d/state-$n"
    done
  done
}
`;

const SBATCH = `#!/bin/bash
d=$FAKE_SLURM
script=\${@: -1}
n=$(( $(cat "$d/next" 2>/dev/null || echo 100) + 1 )); echo $n > "$d/next"
echo "$n $script" >> "$d/sbatch.calls"
${RUN_TASKS}
if [[ -f $d/hold ]]; then
  echo "JobId=$n ArrayJobId=$n ArrayTaskId=$(sed -n 's/^#SBATCH --array=//p' "$script") JobState=PENDING Reason=None ExitCode=0:0 Restarts=0" > "$d/state-$n"
  echo "$script" > "$d/held-$n"
else
  run_tasks $n "$script"
fi
echo "$n"
`;

const SCONTROL = `#!/bin/bash
d=$FAKE_SLURM
if [[ $1 == show && $2 == job ]]; then
  id=\${@: -1}
  [[ -f $d/state-$id ]] || { echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1; }
  cat "$d/state-$id"
  exit 0
fi
${RUN_TASKS}
if [[ $1 == fake-run ]]; then run_tasks "$2" "$(cat "$d/held-$2")"; exit 0; fi
echo "fake scontrol: $*" >&2; exit 1
`;

/** Makes the fake's bin dir and state dir under `dir`; returns what to put on PATH and in FAKE_SLURM. */
export async function fakeSlurm(dir: string): Promise<{ bin: string; state: string; calls(): Promise<string[]>; runHeldJob(id: string): void }> {
  const bin = join(dir, 'fake-bin');
  const state = join(dir, 'fake-state');
  await mkdir(bin, { recursive: true });
  await mkdir(state, { recursive: true });
  await writeFile(join(bin, 'sbatch'), SBATCH);
  await writeFile(join(bin, 'scontrol'), SCONTROL);
  // sacct with accounting off, as on the CI cluster: the executor must manage without it.
  await writeFile(join(bin, 'sacct'), '#!/bin/bash\necho "sacct: error: Slurm accounting storage is disabled" >&2\nexit 1\n');
  // scancel only records: the real one would act on a real cluster's jobs of the same numbers.
  await writeFile(join(bin, 'scancel'), '#!/bin/bash\necho "$*" >> "$FAKE_SLURM/scancel.calls"\n');
  for (const f of ['sbatch', 'scontrol', 'sacct', 'scancel']) await chmod(join(bin, f), 0o755);
  return {
    bin,
    state,
    calls: async () => (existsSync(join(state, 'sbatch.calls')) ? (await readFile(join(state, 'sbatch.calls'), 'utf8')).trim().split('\n') : []),
    runHeldJob: (id) => {
      execFileSync(join(bin, 'scontrol'), ['fake-run', id], { env: { ...process.env, FAKE_SLURM: state } });
    },
  };
}
