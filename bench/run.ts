/**
 * The benchmark: builds the server, runs each scenario against the built server (one fresh process
 * per scenario) and the baselines in the same run, prints the tables and saves them to bench/out/.
 *
 *   npm run bench                               everything (about 9 minutes)
 *   npm run bench -- --scenario analyze         a group: analyze | events | health | baselines,
 *                                               or names: analyze-16,event-end,ceiling,bare-uws,naive
 *                                               ("all" leaves out the scenarios that need NATS)
 *   npm run bench -- --scenario processes       one server process against --processes (default 2) on one
 *                                               port (analyze-16, health, event-probs-nats), and bare uWS
 *                                               on one thread, --processes threads and --processes processes
 *   npm run bench -- --scenario stores          /event/payload PROBS into the JSONL log and into NATS
 *                                               (needs NATS at NATS_URL, default nats://127.0.0.1:4222;
 *                                               each server gets a stream of its own, deleted after; the
 *                                               stream must gain one message per acknowledged event)
 *   npm run bench -- --scenario memory          the largest load --rounds times (default 3) per server,
 *                                               RSS after each rest: does memory come back?
 *   npm run bench -- --duration 5 --connections 16,64 --no-build
 *   npm run bench:stream                        the demo agent as load generator (not in "all": about
 *                                               4 minutes): ws JSON keypoints, ws binary features and
 *                                               http windows at --cameras (default 8,16,32,64,96) at
 *                                               30 fps, stride 4, --duration s each (default 10), each
 *                                               mode until under 99 % of the due analyses are answered
 *                                               (or the agent sends under 95 % of the nominal frames)
 *   npm run bench -- --scenario analyze-16 --connections 64 --profile
 *                                               CPU profiles of the server's threads, with their hot spots
 *                                               (profiling slows the server: not for comparing figures)
 *   npm run bench -- --compare <git-ref> [--scenario analyze-16,event-end,event-probs] [--connections 64] [--rounds 3]
 *                                               before/after: builds the server at <git-ref> in a scratch
 *                                               git worktree (bench/out/ref-<sha>/, this node_modules linked,
 *                                               removed afterwards) and this working tree as usual, then for
 *                                               each scenario and connection count measures the two ALTERNATELY
 *                                               (before, after, before, after, … --rounds times each, a fresh
 *                                               process each, same model, settings and bodies); prints and saves
 *                                               (bench/out/compare-<time>.md/.json) the median req/s of each, the
 *                                               ratio after ÷ before, p99 and, for event scenarios, stored / 2xx.
 *                                               Server scenarios only; defaults: the three above, 64 connections.
 *   npm run bench -- --versus analyze-16:analyze-16-processes,bare-analyze-threads:bare-analyze-processes [--rounds 3]
 *                                               the same, alternating two targets of this working tree per pair:
 *                                               server scenarios, or bare uWS routes (bare-health, bare-analyze,
 *                                               bare-event) on one thread, or with -threads / -processes on
 *                                               --processes (default 2) threads or processes sharing the port
 *   npm run bench -- --help                     this text
 *
 * BACKEND_* variables in the environment reach every server started (to try a tuning).
 * Before each measurement it waits for other processes to quieten, at most --quiet-wait seconds
 * in all (default 60); the "others CPU %" column shows what ran beside it anyway.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BUNDLED_MODEL_PATH, PROJECT_ROOT } from '../src/common/paths.js';
import { measureCeiling } from './baselines/ceiling.js';
import { compareMarkdown, runCompare, saveCompare, type ComparePair, type Side } from './compare.js';
import { measureTarget, type RunSettings, type TargetResult } from './measure.js';
import { memorySoak, type MemorySoak } from './memory.js';
import { formatHotSpots } from './profile-summary.js';
import { machineInfo, QuietGate } from './proc-stats.js';
import { saveResults, toMarkdown, type BenchResults, type CeilingResult } from './report.js';
import { BARE_ROUTES, MEMORY_SCENARIOS, select, SERVER_SCENARIOS, W60_MODEL_PATH, type Selection, type ServerScenario, type StreamMode } from './scenarios.js';
import { BARE_VARIANTS, contender, startBareUws, startScenarioServer, type BareVariant, type RunningTarget } from './scenario-server.js';
import { assertBuilt, ServerProcess, startBuiltServer } from './server-process.js';
import { measureStreamMode, type StreamResult, type StreamRun, type StreamSettings } from './stream.js';

const { values: args } = parseArgs({
  options: {
    scenario: { type: 'string' },
    // 8 s per autocannon measurement, 10 s per stream level
    duration: { type: 'string' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string' },
    rest: { type: 'string', default: '5' },
    'quiet-wait': { type: 'string', default: '60' },
    'ceiling-seconds': { type: 'string', default: '3' },
    'no-build': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '3' },
    cameras: { type: 'string', default: '8,16,32,64,96' },
    compare: { type: 'string' },
    versus: { type: 'string' },
    processes: { type: 'string', default: '2' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  // The usage is this file's opening comment.
  const source = readFileSync(new URL(import.meta.url), 'utf8');
  process.stdout.write(`${source.slice(source.indexOf('/**') + 3, source.indexOf('*/')).replace(/^ \*( |$)/gm, '').trim()}\n`);
  process.exit(0);
}
const comparing = args.compare !== undefined || args.versus !== undefined;

const settings: RunSettings = {
  connections: (args.connections ?? (comparing ? '64' : '1,16,64,256')).split(',').map(Number),
  durationSec: Number(args.duration ?? 8),
  warmupSec: Number(args.warmup),
  restSec: Number(args.rest),
};
const streamSettings: StreamSettings = {
  cameras: args.cameras.split(',').map(Number),
  fps: 30,
  stride: 4,
  durationSec: Number(args.duration ?? 10),
  warmupSec: settings.warmupSec,
  minAnsweredShare: 0.99,
  minSentShare: 0.95,
};
const quiet = new QuietGate(Number(args['quiet-wait']));
/** Server processes in the multi-process scenarios (and listeners in the bare-uWS threads/processes baselines). */
const processes = Number(args.processes);
/** The NATS server of the scenarios with the NATS store; each gets a stream of its own, deleted after. */
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const OUT_DIR = join(PROJECT_ROOT, 'bench', 'out');
const log = (line: string): void => void process.stdout.write(`${line}\n`);

function build(): void {
  log('building the server (npm run build)…');
  const result = spawnSync('npm', ['run', 'build', '--silent'], { cwd: PROJECT_ROOT, stdio: 'inherit' });
  if (result.status !== 0) throw new Error('npm run build failed');
}

const bodyCache = new Map<string, string[]>();
function bodiesOf(scenario: ServerScenario): string[] {
  let bodies = bodyCache.get(scenario.name);
  if (!bodies) bodyCache.set(scenario.name, (bodies = scenario.bodies()));
  return bodies;
}

/** The built server for a scenario, in its own working directory with a fresh event log. */
function startServer(scenario: Pick<ServerScenario, 'name' | 'modelPath'>, cwd: string, nodeArgs: string[] = []): Promise<ServerProcess> {
  return startBuiltServer({ name: scenario.name, modelPath: scenario.modelPath, cwd, nodeArgs });
}

async function runServerScenario(scenario: ServerScenario, workDir: string, profileDir: string): Promise<BenchResults['servers'][number]> {
  const cwd = join(workDir, scenario.name);
  const profiling = args.profile ? ['--cpu-prof', '--cpu-prof-dir', join(profileDir, scenario.name)] : [];
  const running = await startScenarioServer(scenario, { cwd, processes, natsUrl: NATS_URL, nodeArgs: profiling });
  const { server } = running;
  try {
    const ready = JSON.parse((await server.get('/ready')).text) as { workers: { expected: number } };
    const bodies = bodiesOf(scenario);
    log(`${scenario.name}: server pid ${server.pid}, ${running.processes > 1 ? `${running.processes} processes × ` : ''}${ready.workers.expected} inference workers` +
      `${scenario.store ? `, ${scenario.store} store` : ''}${bodies.length ? `, bodies ${Math.min(...bodies.map((b) => b.length))}–${Math.max(...bodies.map((b) => b.length))} bytes` : ''}`);
    const result = await measureTarget({
      name: scenario.name,
      server,
      request: { method: scenario.method, path: scenario.path, bodies },
      ...running.target,
    }, settings, quiet, log);
    return { ...result, model: scenario.modelPath.slice(PROJECT_ROOT.length + 1), workers: ready.workers.expected, processes: running.processes, store: scenario.store ?? 'file' };
  } finally {
    await running.stop();
    if (args.profile) printHotSpots(join(profileDir, scenario.name));
  }
}

async function runMemorySoaks(workDir: string): Promise<MemorySoak[]> {
  const soaks: MemorySoak[] = [];
  for (const scenario of SERVER_SCENARIOS.filter((s) => MEMORY_SCENARIOS.includes(s.name))) {
    const server = await startServer(scenario, join(workDir, `memory-${scenario.name}`));
    log(`memory ${scenario.name}: server pid ${server.pid}`);
    try {
      const request = { method: scenario.method, path: scenario.path, bodies: bodiesOf(scenario) };
      const options = { connections: Math.max(...settings.connections), durationSec: settings.durationSec, restSec: settings.restSec, rounds: Number(args.rounds) };
      soaks.push(await memorySoak(scenario.name, server, request, options, quiet, log));
    } finally {
      await server.stop();
    }
  }
  return soaks;
}

/** Every selected stream mode against one server, the agent in this process as the load generator. */
async function runStreams(modes: StreamMode[], workDir: string): Promise<StreamRun> {
  const server = await startServer({ name: 'stream', modelPath: BUNDLED_MODEL_PATH }, join(workDir, 'stream'));
  try {
    const ready = JSON.parse((await server.get('/ready')).text) as { workers: { expected: number } };
    log(`stream: server pid ${server.pid}, ${ready.workers.expected} inference workers, cameras ${streamSettings.cameras.join(', ')}`);
    const results: StreamResult[] = [];
    for (const mode of modes) results.push(await measureStreamMode(server, mode, streamSettings, quiet, log));
    return { settings: streamSettings, model: BUNDLED_MODEL_PATH.slice(PROJECT_ROOT.length + 1), workers: ready.workers.expected, modes: results };
  } finally {
    await server.stop();
  }
}

/** One summary per thread profile (the main thread's first: its name has the lowest thread id). */
function printHotSpots(dir: string): void {
  if (!existsSync(dir)) {
    log(`no profiles in ${dir}`);
    return;
  }
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort()) log(formatHotSpots(join(dir, file), 15));
}

type Loads = { name: string; scenario: ServerScenario }[];

async function runBaselineServer(name: string, script: string[], loads: Loads): Promise<TargetResult[]> {
  const server = await ServerProcess.start({ name, args: ['--import', 'tsx', ...script], cwd: PROJECT_ROOT, readyPath: '/health', env: {} });
  return loadBaseline({ server, target: {}, stop: () => server.stop() }, loads);
}

/** Each load in turn against one baseline server, stopped at the end. */
async function loadBaseline(running: RunningTarget, loads: Loads): Promise<TargetResult[]> {
  const { server } = running;
  log(`${server.name}: pid ${server.pid}`);
  try {
    const results: TargetResult[] = [];
    for (const load of loads) {
      const { method, path } = load.scenario;
      results.push(await measureTarget({ name: load.name, server, request: { method, path, bodies: bodiesOf(load.scenario) } }, settings, quiet, log));
    }
    return results;
  } finally {
    await running.stop();
  }
}

async function runCeilings(servers: BenchResults['servers'], wanted: boolean): Promise<CeilingResult[]> {
  const results: CeilingResult[] = [];
  for (const [scenario, modelPath] of [['analyze-16', BUNDLED_MODEL_PATH], ['analyze-60', W60_MODEL_PATH]] as const) {
    const server = servers.find((s) => s.name === scenario);
    if (!server && !wanted) continue;
    // the batch sizes the server reached, and the usual ones
    const batches = new Set([1, 8, 16, 32]);
    for (const level of server?.levels ?? []) if (level.figures?.meanBatch) batches.add(Math.max(1, Math.round(level.figures.meanBatch)));
    const sorted = [...batches].sort((a, b) => a - b);
    // The server's own worker count (the issue's definition), and every core busy with inference
    // (what the machine could do with no HTTP at all) when that differs.
    const counts = new Set([server?.workers ?? availableParallelism(), availableParallelism()]);
    for (const workers of counts) {
      log(`ceiling for ${scenario}: ${workers} workers, batches ${sorted.join(', ')}`);
      const points = await measureCeiling({ modelPath, workers, intraOpThreads: 1, batches: sorted, seconds: Number(args['ceiling-seconds']) });
      for (const p of points) log(`  batch ${p.batch}: ${Math.round(p.windowsPerSec)} windows/s, ${p.meanRunMs.toFixed(2)} ms per run`);
      results.push({ scenario, model: modelPath.slice(PROJECT_ROOT.length + 1), workers, points });
    }
  }
  return results;
}

/** How this run was started, for the record. */
function commandLine(): string {
  const rest = process.argv.slice(2).join(' ');
  const script = process.env.npm_lifecycle_event;
  if (script?.startsWith('bench')) return `npm run ${script}${rest ? ` -- ${rest}` : ''}`;
  return `tsx bench/run.ts${rest ? ` ${rest}` : ''}`;
}

function checkSettings(): void {
  const checked = [['connections', settings.connections], ['cameras', streamSettings.cameras], ['duration', [settings.durationSec, streamSettings.durationSec]], ['warmup', [settings.warmupSec]], ['processes', [processes]]] as const;
  for (const [name, value] of checked) {
    if (!value.every((n) => Number.isFinite(n) && n > 0)) throw new Error(`--${name} must be positive numbers, got ${JSON.stringify(args[name])}`);
  }
}

/**
 * --compare: this working tree against the server at a git ref, scenario by scenario; --versus:
 * pairs of targets of this working tree ("a:b,c:d"). Alternating, in one run.
 */
async function compare(): Promise<void> {
  if (args.profile) throw new Error('--profile slows the server: not with --compare or --versus');
  const rounds = Number(args.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer, got ${JSON.stringify(args.rounds)}`);
  const targetOptions = { processes, natsUrl: NATS_URL, bodiesOf };
  let pairs: (scripts: Record<Side, string>) => ComparePair[];
  if (args.versus !== undefined) {
    if (args.compare !== undefined || args.scenario !== undefined) throw new Error('--versus names its pairs itself: not with --compare or --scenario');
    const named = args.versus.split(',').map((pair) => {
      const [before, after, ...rest] = pair.split(':');
      if (!before || !after || rest.length) throw new Error(`--versus takes pairs a:b separated by commas, got "${pair}"`);
      return { name: `${before} → ${after}`, before: contender(before, targetOptions), after: contender(after, targetOptions) };
    });
    pairs = () => named;
  } else {
    const selection = select(args.scenario ?? 'analyze-16,event-end,event-probs');
    const ignored = [...selection.baselines, ...(selection.memory ? ['memory'] : []), ...selection.streams.map((m) => m.name)];
    if (ignored.length) log(`--compare measures server scenarios only; leaving out ${ignored.join(', ')}`);
    if (!selection.scenarios.length) throw new Error('--compare needs at least one server scenario (--scenario analyze-16,event-end,…)');
    pairs = (scripts) => selection.scenarios.map((scenario) => ({
      name: scenario.name,
      before: contender(scenario.name, { ...targetOptions, script: scripts.before }),
      after: contender(scenario.name, { ...targetOptions, script: scripts.after }),
    }));
  }
  const results = await runCompare({
    ref: args.compare ?? null, pairs, settings, rounds, quiet, outDir: OUT_DIR, log,
    buildCurrent: () => {
      if (!args['no-build']) build();
    },
    header: { startedAt: new Date().toISOString(), command: commandLine(), machine: machineInfo(), serverEnv: serverEnv() },
  });
  const saved = saveCompare(results, OUT_DIR);
  log(`\n${compareMarkdown(results)}`);
  log(`saved ${saved} (and .md)`);
}

function serverEnv(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('BACKEND_'))) as Record<string, string>;
}

async function main(): Promise<void> {
  checkSettings();
  if (comparing) return compare();
  const selection = select(args.scenario ?? 'all');
  if (!args['no-build']) build();
  assertBuilt();
  const startedAt = new Date().toISOString();
  const workDir = join(OUT_DIR, `work-${startedAt.replace(/[:.]/g, '-')}`);
  const results: BenchResults = {
    startedAt, finishedAt: '', machine: machineInfo(), settings, serverEnv: serverEnv(),
    command: commandLine(),
    servers: [], bareUws: [], naive: [], ceilings: [], memory: [], stream: null,
  };
  try {
    const profileDir = join(OUT_DIR, `profiles-${startedAt.replace(/[:.]/g, '-')}`);
    for (const scenario of selection.scenarios) results.servers.push(await runServerScenario(scenario, workDir, profileDir));
    for (const variant of Object.keys(BARE_VARIANTS) as BareVariant[]) {
      if (!selection.baselines.has(`bare-uws${variant}`)) continue;
      const loads = BARE_ROUTES.map((r) => ({ name: r.name + variant, scenario: SERVER_SCENARIOS.find((s) => s.name === r.scenario)! }));
      results.bareUws.push(...await loadBaseline(await startBareUws(variant, processes), loads));
    }
    if (selection.baselines.has('naive')) {
      const analyze = SERVER_SCENARIOS.find((s) => s.name === 'analyze-16')!;
      results.naive = await runBaselineServer('naive-node-http', ['bench/baselines/naive-node-http.ts', BUNDLED_MODEL_PATH], [{ name: 'naive-analyze-16', scenario: analyze }]);
    }
    results.ceilings = await runCeilings(results.servers, selection.baselines.has('ceiling'));
    if (selection.memory) results.memory = await runMemorySoaks(workDir);
    if (selection.streams.length) results.stream = await runStreams(selection.streams, workDir);
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
  results.finishedAt = new Date().toISOString();
  const saved = saveResults(results, OUT_DIR);
  log(`\n${toMarkdown(results)}`);
  log(`saved ${saved} (and .md)`);
}

try {
  await main();
} catch (err) {
  process.stderr.write(`bench: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
