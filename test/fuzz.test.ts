/**
 * Property-based fuzzing of the real server (src/main.ts in a child process, real workers, the
 * bundled model, a temp event log, Kakao pointed at the local stand-in): every route and the
 * stream protocol get generated and mutated input, and must answer with documented statuses,
 * stay up and stay fast. See test/fuzz/properties.ts for the properties.
 *
 * `npm test` runs this with a fixed seed and few runs. `npm run fuzz` runs it deeper:
 *   FUZZ_SEED=n        seed (default: fixed under npm test, fresh under npm run fuzz)
 *   FUZZ_SCALE=k       multiply every property's run count (npm run fuzz: 20)
 *   FUZZ_RUNS=n        run count for every property
 *   FUZZ_ONLY=word     only the properties whose name contains word
 *   FUZZ_COLLECT=1     report every distinct failure instead of stopping at the first (npm run fuzz: on)
 *   FUZZ_SHRINK=1      shrink a failing case (the server is restarted after every crash)
 *   FUZZ_PATH=p        with FUZZ_SEED, replay one reported failure
 *   FUZZ_TIME_LIMIT_S  per-property time limit (npm run fuzz: 300)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { KakaoStandin } from './support/kakao-standin.js';
import { FuzzTarget } from './fuzz/target.js';
import { acknowledged, ALL_PROPERTIES, checkEventLog, fuzzSettings, FUZZ_SERVER_ENV, runProperty, statusCounts, statusSummary, type Finding } from './fuzz/properties.js';

const settings = fuzzSettings();
const only = process.env.FUZZ_ONLY;

t.test('fuzz', async (t) => {
  const kakao = await KakaoStandin.start();
  t.teardown(() => kakao.close());
  const target = new FuzzTarget({
    env: {
      ...FUZZ_SERVER_ENV,
      KAKAO_API_BASE_URL: kakao.url,
      KAKAO_AUTH_BASE_URL: kakao.url,
      KAKAO_ACCESS_TOKEN: kakao.issueAccessToken(),
      KAKAO_TIMEOUT_MS: '2000',
    },
  });
  t.teardown(() => target.stop());
  t.comment(`seed ${settings.seed}, scale ${settings.scale}${settings.runs ? `, ${settings.runs} runs each` : ''}${settings.collect ? ', collecting every failure' : ''}`);
  await target.ensureUp();

  const findings: Finding[] = [];
  for (const property of ALL_PROPERTIES) {
    if (only && !property.name.includes(only)) continue;
    await t.test(property.name, async (t) => {
      findings.push(...(await runProperty(t, target, property, settings)));
    });
  }

  await t.test('every acknowledged event is one valid JSON line in the log', async (t) => {
    await target.ensureUp();
    const problems = checkEventLog(readFileSync(join(target.dir, 'events.jsonl'), 'utf8'), acknowledged);
    t.same(problems, [], `${acknowledged.length} acknowledged event(s)`);
  });

  if (statusCounts.size) t.comment(`answers seen, by method and route:\n${statusSummary()}`);
  if (findings.length || target.deaths.length) {
    t.comment(`${findings.length} distinct failure(s); the server died ${target.deaths.length} time(s) and was started ${target.starts} time(s)`);
    for (const f of findings) t.comment(`- [${f.property}] ${f.signature} ×${f.count}\n    input: ${f.input.split('\n').join('\n    ')}`);
  }
});
