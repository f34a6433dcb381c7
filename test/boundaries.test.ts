/**
 * The house rules, checked on the source: who may import what. A rule broken here names the file
 * and the import, so the fix is to move code to where both sides can import it downward.
 *
 * Layers: src/contracts (leaf: TypeBox only) ← src/common and src/features (leaves any thread or
 * client may use) ← the server's main thread (src/**) | the threads (workers/**) | the clients
 * (src/agent, src/cli, bench). Foreign packages at a boundary have one owner each.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, posix } from 'node:path';
import t from 'tap';
import { PROJECT_ROOT } from '../src/common/paths.js';

interface SourceFile {
  /** Project-relative, with forward slashes. */
  path: string;
  text: string;
  /** Import specifiers as written, static and dynamic, with `export … from`. */
  specifiers: string[];
}

const IMPORT = /(?:^|[;\s])(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+\s+from\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function sourceFiles(dir: string): SourceFile[] {
  const out: SourceFile[] = [];
  for (const entry of readdirSync(join(PROJECT_ROOT, dir), { withFileTypes: true })) {
    const path = posix.join(dir, entry.name);
    // bench/out holds results and scratch checkouts of other versions, not this tree's code.
    if (entry.isDirectory()) { if (path !== 'bench/out') out.push(...sourceFiles(path)); }
    else if (/\.ts$/.test(entry.name) && !entry.name.endsWith('.d.ts')) {
      const text = readFileSync(join(PROJECT_ROOT, path), 'utf8');
      const specifiers = [...text.matchAll(IMPORT)].map((m) => (m[1] ?? m[2])!);
      out.push({ path, text, specifiers });
    }
  }
  return out;
}

const files = [...sourceFiles('src'), ...sourceFiles('workers'), ...sourceFiles('bench')];

/** A relative specifier resolved to a project path (`.js` → `.ts`); null for packages and builtins. */
function resolveLocal(from: string, specifier: string): string | null {
  if (!specifier.startsWith('.')) return null;
  return posix.normalize(posix.join(posix.dirname(from), specifier)).replace(/\.js$/, '.ts');
}

function packageName(specifier: string): string | null {
  if (specifier.startsWith('.') || specifier.startsWith('node:') || builtinModules.includes(specifier)) return null;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

const under = (path: string, ...prefixes: string[]) => prefixes.some((p) => path === p || path.startsWith(p.endsWith('/') ? p : `${p}/`));

t.test('each foreign boundary has its owners', async (t) => {
  // NATS: the writer thread's store and the parts sharing its connection, and the stream's shared
  // reader (src/common/event-stream.ts), which the events CLI uses too.
  const nats = (p: string) => under(p, 'workers/writer/nats/') || p === 'src/common/event-stream.ts';
  const owners: Record<string, (path: string) => boolean> = {
    'uWebSockets.js': (p) => under(p, 'src/http/') || p === 'bench/baselines/bare-uws.ts',
    piscina: (p) => p === 'src/inference/pool.ts' || p === 'bench/baselines/ceiling.ts',
    'onnxruntime-node': (p) => under(p, 'workers/inference/') || p === 'bench/baselines/naive-node-http.ts',
    undici: (p) => p === 'workers/writer/kakao-client.ts',
    '@nats-io/transport-node': nats,
    '@nats-io/jetstream': nats,
    '@nats-io/kv': nats,
    '@nats-io/nats-core': nats,
  };
  const broken: string[] = [];
  for (const file of files) {
    for (const specifier of file.specifiers) {
      const owner = owners[packageName(specifier) ?? ''];
      if (owner && !owner(file.path)) broken.push(`${file.path} imports ${specifier}`);
    }
  }
  t.same(broken, [], 'foreign packages imported outside their owners');
});

t.test('src/contracts is a leaf: it imports only TypeBox and other contracts', async (t) => {
  const broken = files
    .filter((f) => under(f.path, 'src/contracts/'))
    .flatMap((f) => f.specifiers
      .filter((s) => { const local = resolveLocal(f.path, s); return local ? !under(local, 'src/contracts/') : s !== '@sinclair/typebox'; })
      .map((s) => `${f.path} imports ${s}`));
  t.same(broken, []);
});

t.test('src/common and src/features import only contracts, each other and libraries', async (t) => {
  const broken = files
    .filter((f) => under(f.path, 'src/common/', 'src/features/'))
    .flatMap((f) => f.specifiers
      .filter((s) => { const local = resolveLocal(f.path, s); return local !== null && !under(local, 'src/contracts/', 'src/common/', 'src/features/'); })
      .map((s) => `${f.path} imports ${s}`));
  t.same(broken, []);
});

t.test('threads import only contracts, shared leaves and their own code', async (t) => {
  const broken = files
    .filter((f) => under(f.path, 'workers/'))
    .flatMap((f) => f.specifiers
      .filter((s) => { const local = resolveLocal(f.path, s); return local !== null && !under(local, 'src/contracts/', 'src/common/', 'workers/'); })
      .map((s) => `${f.path} imports ${s}`));
  t.same(broken, []);
});

t.test('clients (demo agent, CLI, bench) do not import the server', async (t) => {
  const clientMay = (local: string, own: string) => under(local, 'src/contracts/', 'src/common/', 'src/features/', own);
  // The stream benchmark drives the demo agent as its load generator, through the agent's entry points.
  const benchMayUse = new Set(['src/agent/options.ts', 'src/agent/run-agent.ts', 'src/agent/summary.ts']);
  const clients: [string, string][] = [['src/agent/', 'src/agent/'], ['src/cli/', 'src/cli/'], ['bench/', 'bench/']];
  const broken: string[] = [];
  for (const [prefix, own] of clients) {
    for (const file of files.filter((f) => under(f.path, prefix))) {
      for (const specifier of file.specifiers) {
        const local = resolveLocal(file.path, specifier);
        if (local && !clientMay(local, own) && !(own === 'bench/' && benchMayUse.has(local))) broken.push(`${file.path} imports ${specifier}`);
      }
    }
  }
  t.same(broken, []);
});

t.test('the server never imports a thread entry or its code (it points at them by URL)', async (t) => {
  const broken = files
    .filter((f) => under(f.path, 'src/'))
    .flatMap((f) => f.specifiers.filter((s) => under(resolveLocal(f.path, s) ?? '', 'workers/')).map((s) => `${f.path} imports ${s}`));
  t.same(broken, []);
});

t.test('no import cycles', async (t) => {
  const graph = new Map(files.map((f) => [f.path, f.specifiers.map((s) => resolveLocal(f.path, s)).filter((p): p is string => p !== null)]));
  const cycles: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (node: string, trail: string[]): void => {
    if (state.get(node) === 'done') return;
    if (state.get(node) === 'visiting') {
      cycles.push([...trail.slice(trail.indexOf(node)), node].join(' → '));
      return;
    }
    state.set(node, 'visiting');
    for (const next of graph.get(node) ?? []) visit(next, [...trail, node]);
    state.set(node, 'done');
  };
  for (const node of graph.keys()) visit(node, []);
  t.same(cycles, []);
});

t.test('one private-field style: TypeScript `private`, named for what it holds', async (t) => {
  const hashFields: string[] = [];
  const shortNames: string[] = [];
  for (const file of files.filter((f) => under(f.path, 'src/', 'workers/'))) {
    file.text.split('\n').forEach((line, i) => {
      if (/(^|[^\w$'"`/])#[A-Za-z_]\w*/.test(line.replace(/\/\/.*$|'[^']*'|"[^"]*"|`[^`]*`/g, ''))) hashFields.push(`${file.path}:${i + 1}`);
      if (/\bprivate\s+(?:readonly\s+)?[A-Za-z_]\b(?!\w)/.test(line)) shortNames.push(`${file.path}:${i + 1}`);
    });
  }
  t.same(hashFields, [], 'ECMAScript #private fields (the house style is TypeScript `private`)');
  t.same(shortNames, [], 'one-letter private fields');
});

t.test('the compiler settings the rules rely on', async (t) => {
  const tsconfig = JSON.parse(readFileSync(join(PROJECT_ROOT, 'tsconfig.json'), 'utf8')) as { compilerOptions: Record<string, unknown> };
  t.equal(tsconfig.compilerOptions.verbatimModuleSyntax, true, 'type-only imports are marked');
  t.equal(tsconfig.compilerOptions.noUncheckedIndexedAccess, true, 'an index may be undefined, and a `!` says why not');
});
