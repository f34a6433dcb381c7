/**
 * Compare mode: two things measured alternately, side by side in one run. Either the server at
 * another git ref ("before") against this working tree ("after"), scenario by scenario
 * (--compare), or two targets of this working tree against each other (--versus a:b, e.g. one
 * server process against several, or bare uWS on threads against processes). The ref is checked
 * out with `git worktree add --detach` into bench/out/ref-<sha>/ (git-ignored), given this
 * checkout's node_modules through a symlink, built with its own `npm run build`, and removed
 * afterwards. For each pair and connection count the two sides are measured alternately, --rounds
 * times (before, after, before, after, …), each measurement a fresh server process with the same
 * model, settings and bodies, so that machine noise hits both alike; the table gives the median of
 * the rounds and the ratio after ÷ before.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, realpathSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../src/common/paths.js';
import { measureTarget, type LevelResult, type RunSettings } from './measure.js';
import type { machineInfo, QuietGate } from './proc-stats.js';
import type { Contender } from './scenario-server.js';
import { assertBuilt, builtFiles, BUILT_SERVER } from './server-process.js';

export type Side = 'before' | 'after';
const SIDES: readonly Side[] = ['before', 'after'];

export interface Version {
  /** What the user named (a ref), or "working tree". */
  label: string;
  /** The commit (for "after": HEAD, plus "dirty" when the tree has uncommitted changes). */
  commit: string;
  subject: string;
  dirty?: boolean;
}

export interface CompareRound {
  round: number;
  side: Side;
  level: LevelResult;
}

export interface CompareCell {
  /** The pair: a scenario (--compare), or "a → b" (--versus). */
  scenario: string;
  connections: number;
  /** In the order measured: before, after, before, after, … */
  rounds: CompareRound[];
}

export interface CompareResults {
  startedAt: string;
  finishedAt: string;
  command: string;
  machine: ReturnType<typeof machineInfo>;
  settings: RunSettings;
  rounds: number;
  serverEnv: Record<string, string>;
  /** --versus: both sides are this working tree, and each row names its two targets. */
  versus: boolean;
  before: Version;
  after: Version;
  cells: CompareCell[];
}

/** A row of the comparison: what is measured before and after. */
export interface ComparePair {
  name: string;
  before: Contender;
  after: Contender;
}

export interface CompareOptions {
  /** The git ref built as "before"; null for --versus (everything from this working tree). */
  ref: string | null;
  /** The rows, given the built server entry of each side. */
  pairs: (scripts: Record<Side, string>) => ComparePair[];
  settings: RunSettings;
  rounds: number;
  /** Builds this working tree (unless --no-build). */
  buildCurrent: () => void;
  quiet: QuietGate;
  outDir: string;
  log: (line: string) => void;
  header: Pick<CompareResults, 'startedAt' | 'command' | 'machine' | 'serverEnv'>;
}

function git(args: string[], cwd = PROJECT_ROOT): string {
  const result = spawnSync('git', args, { cwd, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`git ${args.join(' ')}: ${(result.stderr || result.stdout).trim()}`);
  return result.stdout.trim();
}

function describe(ref: string): Version {
  const found = spawnSync('git', ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { cwd: PROJECT_ROOT, encoding: 'utf8' });
  if (found.status !== 0) throw new Error(`--compare: "${ref}" names no commit in this repository`);
  const commit = found.stdout.trim();
  return { label: ref, commit, subject: git(['log', '-1', '--format=%s', commit]) };
}

function currentVersion(): Version {
  const head = describe('HEAD');
  const dirty = git(['status', '--porcelain']) !== '';
  return { ...head, label: 'working tree', dirty };
}

/** Removes the scratch checkout: the node_modules link first (never followed), then the worktree. */
function removeScratch(dir: string): void {
  const link = join(dir, 'node_modules');
  if (existsSync(dir) && lstatSync(link, { throwIfNoEntry: false })?.isSymbolicLink()) unlinkSync(link);
  spawnSync('git', ['worktree', 'remove', '--force', dir], { cwd: PROJECT_ROOT, stdio: 'ignore' });
  rmSync(dir, { recursive: true, force: true });
  spawnSync('git', ['worktree', 'prune'], { cwd: PROJECT_ROOT, stdio: 'ignore' });
}

/** Checks out `commit` into `dir`, links node_modules, runs that version's own build. */
function buildScratch(commit: string, dir: string, log: (line: string) => void): void {
  removeScratch(dir);
  mkdirSync(join(dir, '..'), { recursive: true });
  log(`checking out ${commit.slice(0, 12)} into ${dir.slice(PROJECT_ROOT.length + 1)}…`);
  git(['worktree', 'add', '--detach', dir, commit]);
  symlinkSync(realpathSync(join(PROJECT_ROOT, 'node_modules')), join(dir, 'node_modules'), 'dir');
  log(`building ${commit.slice(0, 12)} (npm run build)…`);
  const result = spawnSync('npm', ['run', 'build', '--silent'], { cwd: dir, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`npm run build failed in ${dir}`);
  assertBuilt(dir);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

export async function runCompare(o: CompareOptions): Promise<CompareResults> {
  const after = currentVersion();
  const before = o.ref === null ? after : describe(o.ref);
  const scratch = o.ref === null ? null : join(o.outDir, `ref-${before.commit.slice(0, 12)}`);
  const workDir = join(o.outDir, `work-compare-${o.header.startedAt.replace(/[:.]/g, '-')}`);
  const results: CompareResults = { ...o.header, finishedAt: '', settings: o.settings, rounds: o.rounds, versus: o.ref === null, before, after, cells: [] };
  try {
    if (scratch) buildScratch(before.commit, scratch, o.log);
    o.buildCurrent();
    assertBuilt();
    const scripts: Record<Side, string> = { before: scratch ? builtFiles(scratch).server : BUILT_SERVER, after: BUILT_SERVER };
    const rel = (path: string) => path.slice(PROJECT_ROOT.length + 1);
    if (scratch) o.log(`before: ${before.label} = ${before.commit.slice(0, 12)} "${before.subject}" (${rel(scripts.before)})`);
    o.log(`${scratch ? 'after: ' : 'both sides:'} working tree at ${after.commit.slice(0, 12)}${after.dirty ? ' + uncommitted changes' : ''} "${after.subject}" (${rel(scripts.after)})`);
    for (const pair of o.pairs(scripts)) {
      for (const connections of o.settings.connections) {
        const cell: CompareCell = { scenario: pair.name, connections, rounds: [] };
        results.cells.push(cell);
        for (let round = 1; round <= o.rounds; round++) {
          for (const side of SIDES) {
            const contender = pair[side];
            const cwd = join(workDir, `${contender.name}-c${connections}-${side}-${round}`);
            const running = await contender.start(cwd);
            o.log(`${pair.name} c=${connections} round ${round}/${o.rounds} ${side} (${contender.name}): pid ${running.server.pid}`);
            try {
              const result = await measureTarget({
                name: `${contender.name} ${side}`,
                server: running.server,
                request: contender.request,
                ...running.target,
              }, { ...o.settings, connections: [connections] }, o.quiet, o.log);
              cell.rounds.push({ round, side, level: result.levels[0]! });
            } finally {
              await running.stop();
              rmSync(cwd, { recursive: true, force: true });
            }
          }
        }
      }
    }
  } finally {
    rmSync(workDir, { recursive: true, force: true });
    if (scratch) removeScratch(scratch);
  }
  results.finishedAt = new Date().toISOString();
  return results;
}

const f0 = (n: number) => Math.round(n).toLocaleString('en-US');
const f2 = (n: number | null) => (n === null || Number.isNaN(n) ? '–' : n.toFixed(2));

/** "median (min–max)" when there are several rounds. */
function spread(xs: number[], fmt: (n: number) => string): string {
  if (!xs.length) return '–';
  const m = fmt(median(xs));
  return xs.length > 1 ? `${m} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})` : m;
}

function version(v: Version): string {
  return v.label === 'working tree'
    ? `the working tree at ${v.commit.slice(0, 12)}${v.dirty ? ' + uncommitted changes' : ''} ("${v.subject}")`
    : `\`${v.label}\` = ${v.commit.slice(0, 12)} ("${v.subject}")`;
}

export function compareMarkdown(r: CompareResults): string {
  const m = r.machine;
  const events = r.cells.some((c) => c.rounds.some((x) => x.level.events));
  const head = ['scenario', 'conns', 'req/s before', 'req/s after', 'after ÷ before', 'p99 ms before', 'p99 ms after', 'CPU µs / req', 'main thread µs / req'];
  if (events) head.push('stored / 2xx before', 'stored / 2xx after');
  const nats = r.cells.some((c) => c.rounds.some((x) => x.level.natsCpuPct !== undefined));
  if (nats) head.push('NATS µs / req');
  head.push('errors + non-2xx', 'others CPU % (max)');
  const rows = r.cells.map((c) => {
    const of = (side: Side) => c.rounds.filter((x) => x.side === side).map((x) => x.level);
    const rps = (side: Side) => of(side).map((l) => l.load.rps);
    const p99 = (side: Side) => of(side).map((l) => l.load.p99Ms).filter((p): p is number => p !== null);
    const ratio = median(rps('after')) / median(rps('before'));
    // CPU per response (µs) of the whole target and of its main thread(s): median before → after.
    const perRequest = (side: Side, pct: (l: LevelResult) => number) => {
      const us = median(of(side).map((l) => (10_000 * pct(l)) / l.load.rps));
      return Number.isNaN(us) ? '–' : f0(us);
    };
    const cpuPair = (pct: (l: LevelResult) => number) => `${perRequest('before', pct)} → ${perRequest('after', pct)}`;
    const row = [c.scenario, String(c.connections), spread(rps('before'), f0), spread(rps('after'), f0), f2(ratio),
      spread(p99('before'), (n) => n.toFixed(2)), spread(p99('after'), (n) => n.toFixed(2)),
      cpuPair((l) => l.targetCpu.processPct), cpuPair((l) => l.targetCpu.mainThreadPct)];
    if (events) {
      for (const side of SIDES) {
        const checks = of(side).map((l) => l.events).filter((e) => e !== undefined);
        row.push(checks.length ? `${checks.reduce((n, e) => n + e.recordsStored, 0)} / ${checks.reduce((n, e) => n + e.acknowledged, 0)}` : '–');
      }
    }
    if (nats) row.push(cpuPair((l) => l.natsCpuPct ?? NaN));
    const bad = (side: Side) => of(side).reduce((n, l) => n + l.load.errors + l.load.non2xx, 0);
    row.push(`${bad('before')} / ${bad('after')}`, f0(Math.max(...c.rounds.map((x) => x.level.otherCpuPct))));
    return row;
  });
  const table = [`| ${head.join(' | ')} |`, `|${head.map(() => ' --- ').join('|')}|`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
  return [
    `# Comparison run ${r.startedAt}`,
    `\`${r.command}\` — ${m.cpus} CPUs (${m.cpuModel}), ${m.memGiB} GiB, Node ${m.node}, Linux ${m.kernel}; ` +
      `${r.settings.durationSec} s per measurement after ${r.settings.warmupSec} s warm-up; ${r.rounds} round(s) per side, ` +
      `alternating before/after, a fresh server process each; server env ${JSON.stringify(r.serverEnv)}`,
    r.versus ? `- before and after: the two targets each row names (a → b), both from ${version(r.after)}` : `- before: ${version(r.before)}\n- after: ${version(r.after)}`,
    `req/s and p99: median of the rounds (min–max); stored / 2xx (log lines or stream messages): summed over the rounds; errors + non-2xx: before / after.`,
    table,
  ].join('\n\n') + '\n';
}

/** Writes <dir>/compare-<stamp>.json and .md, and compare-latest.json / .md; returns the JSON path. */
export function saveCompare(r: CompareResults, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const stamp = r.startedAt.replace(/[:.]/g, '-');
  const json = JSON.stringify(r, null, 2);
  const md = compareMarkdown(r);
  for (const name of [`compare-${stamp}`, 'compare-latest']) {
    writeFileSync(join(dir, `${name}.json`), json);
    writeFileSync(join(dir, `${name}.md`), md);
  }
  return join(dir, `compare-${stamp}.json`);
}
