/**
 * What a process costs, read from Linux /proc: CPU time (the whole process and its main thread
 * alone) and resident memory. Used to see how the two cores are shared between the server, its
 * threads and the load generator. A process with child processes (the server's supervisor and its
 * server processes) counts with its children: CPU and memory summed, and "main thread" the sum of
 * every process's main thread.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { setTimeout as pause } from 'node:timers/promises';

const CLOCK_TICKS_PER_SEC = 100; // USER_HZ on Linux

/** utime + stime of a /proc stat file, in seconds. */
function cpuSecondsOf(statPath: string): number {
  const stat = readFileSync(statPath, 'utf8');
  // the command name (field 2) may hold spaces; fields after its closing paren are fixed
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SEC;
}

export interface CpuSnapshot {
  at: number;
  process: number;
  mainThread: number;
}

/** The program a process runs ('' once it has ended). */
function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/**
 * `pid` and its descendants running the same program (children of any of its threads,
 * recursively): a supervisor's server processes, not helpers such as tsx's esbuild service.
 */
export function processTree(pid: number, command = commandOf(pid)): number[] {
  const children = readdirSync(`/proc/${pid}/task`).flatMap((task) => {
    try {
      return readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
    } catch {
      return []; // the thread ended meanwhile
    }
  });
  return [pid, ...children.filter((child) => commandOf(child) === command).flatMap((child) => processTree(child, command))];
}

export function cpuSnapshot(pid: number): CpuSnapshot {
  const snapshot: CpuSnapshot = { at: performance.now(), process: 0, mainThread: 0 };
  for (const member of processTree(pid)) {
    snapshot.process += cpuSecondsOf(`/proc/${member}/stat`);
    snapshot.mainThread += cpuSecondsOf(`/proc/${member}/task/${member}/stat`);
  }
  return snapshot;
}

export interface CpuUse {
  /** Percent of one core (200 = both cores of a 2-core box). */
  processPct: number;
  mainThreadPct: number;
}

export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): CpuUse {
  const wall = (b.at - a.at) / 1000;
  return { processPct: (100 * (b.process - a.process)) / wall, mainThreadPct: (100 * (b.mainThread - a.mainThread)) / wall };
}

/** CPU seconds (all threads) the processes running `command` have spent, e.g. a local nats-server. */
export function commandCpuSeconds(command: string): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || commandOf(Number(entry)) !== command) continue;
    try {
      total += cpuSecondsOf(`/proc/${entry}/stat`);
    } catch {
      // it ended meanwhile
    }
  }
  return total;
}

/** CPU seconds the whole machine has spent busy (all cores, from /proc/stat), to see what else ran. */
export function machineBusySeconds(): number {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = ticks;
  return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS_PER_SEC;
}

/**
 * Before each measurement, waits for other processes to leave the machine quiet (under
 * `maxBusyPct` of one core over a one-second sample, read while the target is idle), spending
 * at most `budgetSec` in waiting over the whole run so that a busy machine cannot stall it.
 */
export class QuietGate {
  constructor(
    private budgetSec: number,
    private readonly maxBusyPct = 25,
  ) {}

  /** Returns the seconds waited beyond the first sample. */
  async wait(): Promise<number> {
    const started = performance.now();
    for (;;) {
      const busy0 = machineBusySeconds();
      await pause(1000);
      const busyPct = 100 * (machineBusySeconds() - busy0);
      const waited = (performance.now() - started) / 1000 - 1;
      if (busyPct < this.maxBusyPct || waited >= this.budgetSec) {
        this.budgetSec = Math.max(0, this.budgetSec - waited);
        return waited;
      }
    }
  }
}

/** Resident set size of a process and its descendants in MiB (VmRSS summed). */
export function rssMiB(pid: number): number {
  return processTree(pid).reduce((sum, member) => {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${member}/status`, 'utf8'));
    if (!match) throw new Error(`no VmRSS for pid ${member}`);
    return sum + Number(match[1]) / 1024;
  }, 0);
}

/** Samples a process's RSS every `everyMs` until stopped; reports the peak. */
export function sampleRss(pid: number, everyMs = 200): { stop(): number } {
  let peak = rssMiB(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssMiB(pid));
    } catch {
      // the process ended; keep the peak seen so far
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}

/** The machine, for the results header. */
export function machineInfo(): { cpus: number; cpuModel: string; memGiB: number; node: string; kernel: string } {
  const meminfo = readFileSync('/proc/meminfo', 'utf8');
  const memKb = Number(/^MemTotal:\s+(\d+)/m.exec(meminfo)?.[1] ?? 0);
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  return {
    cpus: cpus().length,
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? 'unknown',
    memGiB: Math.round((memKb / 1024 / 1024) * 10) / 10,
    node: process.version,
    kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
  };
}
