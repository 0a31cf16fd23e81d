/**
 * Whether another process is alive, as Linux sees it: the pid answers, is not a zombie (a
 * `kill -9`ed process awaiting its reaper still answers `kill(pid, 0)`), and, when a start time
 * is known, started then (a recycled pid belongs to someone else).
 */
import { readFileSync } from 'node:fs';

/** State letter and start time of a process from /proc (undefined where there is no /proc or no such process). */
export function procStat(pid: number): { state: string; start: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces or ')': split after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0], start: rest[19] };
}

/** Whether the process `pid` (started at `start`, when recorded) is still running. */
export function processAlive(pid: number, start?: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = procStat(pid);
  if (!stat) return true; // no /proc (macOS): the signal's answer is all there is
  if (stat.state === 'Z' || stat.state === 'X') return false;
  return start === undefined || stat.start === start;
}
