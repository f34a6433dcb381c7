/**
 * Where a thread's time went: the functions with the most self time in a V8 .cpuprofile (as written
 * by `node --cpu-prof`, which `npm run bench -- --profile` passes to the servers it starts).
 *
 *   tsx bench/profile-summary.ts <file.cpuprofile>... [--top 25]
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface HotSpot {
  name: string;
  selfMs: number;
  share: number;
}

/** Self time per function (same name and place), largest first; idle and GC kept as V8 names them. */
export function hotSpots(path: string, top: number): { totalMs: number; busyMs: number; spots: HotSpot[] } {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const nameOf = new Map<number, string>();
  for (const { id, callFrame: f } of profile.nodes) {
    const where = f.url ? ` ${f.url.replace(/^file:\/\/.*?\/node_modules\//, '').replace(/^file:\/\/.*\/(dist|src|workers)\//, '$1/')}:${f.lineNumber + 1}` : '';
    nameOf.set(id, `${f.functionName || '(anonymous)'}${where}`);
  }
  const self = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const name = nameOf.get(id) ?? '?';
    self.set(name, (self.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  const busyMs = totalMs - (self.get('(idle)') ?? 0);
  const spots = [...self.entries()]
    .filter(([name]) => name !== '(idle)')
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, selfMs]) => ({ name, selfMs, share: selfMs / busyMs }));
  return { totalMs, busyMs, spots };
}

export function formatHotSpots(path: string, top = 25): string {
  const { totalMs, busyMs, spots } = hotSpots(path, top);
  const lines = [`${basename(path)}: busy ${Math.round(busyMs)} ms of ${Math.round(totalMs)} ms`];
  for (const s of spots) lines.push(`  ${(100 * s.share).toFixed(1).padStart(5)}%  ${s.selfMs.toFixed(0).padStart(7)} ms  ${s.name}`);
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
  if (positionals.length === 0) throw new Error('usage: profile-summary.ts <file.cpuprofile>... [--top 25]');
  for (const file of positionals) console.log(formatHotSpots(file, Number(values.top)));
}
