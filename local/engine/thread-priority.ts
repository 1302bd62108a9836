/**
 * Engine workers run below the serving thread's priority (Linux), so /health, overload
 * 503s and request parsing on the main thread are not queued behind inference.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/**
 * Nice value of a worker thread. Inference is background work: with the workers at nice 10,
 * Linux's scheduler gives the main thread (nice 0: /health, overload 503s, request parsing) about
 * 9x their weight whenever it wakes (sched(7), "The nice value"; weights 1024 vs 110), so it
 * answers promptly even when every core computes. Measured in docs/benchmarks.md (engine-load).
 */
export const WORKER_NICE = 10;

/**
 * Lowers this thread's (not the process's) priority. Linux keeps a nice value per thread and
 * setpriority(PRIO_PROCESS, tid) changes only that thread (setpriority(2), "BUGS"); Node's
 * os.setPriority passes the id through and /proc/thread-self names this thread's id (proc(5)).
 * Elsewhere (macOS, Windows) there is no per-thread nice: the worker keeps the normal priority.
 */
export function lowerThreadPriority(nice = WORKER_NICE): boolean {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0) return false;
    setPriority(tid, nice);
    return true;
  } catch {
    return false;
  }
}
