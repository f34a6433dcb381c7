import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import dotenv from 'dotenv';
import { ConfigError, ENV_SCHEMA, loadConfig } from '../src/config.js';
import { BUNDLED_MODEL_PATH, BUNDLED_MODELS_DIR, PROJECT_ROOT } from '../src/common/paths.js';
import { tempDir } from './support/temp-dir.js';

/** A directory without .env (removed when the tests end). */
const empty = tempDir;

t.test('.env.example lists every variable with its default and a line of explanation', async (t) => {
  const text = readFileSync(join(PROJECT_ROOT, '.env.example'), 'utf8');
  const example = dotenv.parse(text);
  const properties = ENV_SCHEMA.properties as Record<string, { default: unknown; description: string }>;
  t.same(Object.keys(example).sort(), Object.keys(properties).sort(), 'the same variables');
  for (const [key, schema] of Object.entries(properties)) {
    t.equal(example[key], String(schema.default), `${key} default`);
    t.match(text, new RegExp(`# .+\\n${key}=`), `${key} is explained`);
  }
});

t.test('defaults', async (t) => {
  const c = loadConfig({}, empty());
  t.equal(c.http.port, 8000);
  t.equal(c.http.host, '0.0.0.0');
  t.same(c.model.sources, [BUNDLED_MODELS_DIR], 'the bundled models/ directory');
  t.same(c.model.models.map((m) => m.name), ['behavior_lstm', 'behavior_lstm_w60'], 'both bundled models');
  t.equal(c.events.keepRecent, 200);
  t.equal(c.kakao.apiBaseUrl, 'https://kapi.kakao.com');
  t.equal(c.kakao.buttonTitle, '확인하러 가기');
  t.equal(c.kakao.accessToken, null);
  t.equal(c.kakao.timeZone, 'Asia/Seoul');
  t.equal(c.kakao.eventPageBase, null);
  t.same(c.watch, { token: null, publicUrl: null });
  t.equal(loadConfig({ BACKEND_PUBLIC_URL: 'https://watch.example/' }, empty()).kakao.eventPageBase, 'https://watch.example/watch/events/');
  t.ok(c.inference.workers >= 1);
  t.ok(Object.isFrozen(c) && Object.isFrozen(c.http), 'frozen');
});

t.test('.env is read; the environment wins', async (t) => {
  const dir = empty();
  writeFileSync(join(dir, '.env'), 'BACKEND_PORT=9001\nBACKEND_EVENT_KEEP_RECENT=7\nKAKAO_ACCESS_TOKEN=from-file\n');
  const c = loadConfig({ BACKEND_PORT: '9002' }, dir);
  t.equal(c.http.port, 9002);
  t.equal(c.events.keepRecent, 7);
  t.equal(c.kakao.accessToken, 'from-file');
});

t.test('the seed\'s model variable is an alias; MODEL_CHECKPOINT_PATH wins', async (t) => {
  const dir = empty();
  t.same(loadConfig({ BACKEND_MODEL_CHECKPOINT_PATH: BUNDLED_MODEL_PATH }, dir).model.sources, [BUNDLED_MODEL_PATH]);
  t.throws(() => loadConfig({ BACKEND_MODEL_CHECKPOINT_PATH: 'x.onnx' }, dir), /BACKEND_MODEL_CHECKPOINT_PATH: model file not found/);
  t.same(loadConfig({ MODEL_CHECKPOINT_PATH: BUNDLED_MODEL_PATH, BACKEND_MODEL_CHECKPOINT_PATH: 'x.onnx' }, dir).model.sources, [BUNDLED_MODEL_PATH]);
});

t.test('bad values name the variable', async (t) => {
  const dir = empty();
  const cases: [Record<string, string>, RegExp][] = [
    [{ BACKEND_PORT: '80a' }, /^BACKEND_PORT: must be integer \(got "80a"\)$/],
    [{ BACKEND_PORT: '70000' }, /^BACKEND_PORT: must be <= 65535/],
    [{ BACKEND_EVENT_FSYNC: 'sometimes' }, /^BACKEND_EVENT_FSYNC: must be one of batch, interval, never/],
    [{ BACKEND_BATCH_MAX_WAIT_MS: '-1' }, /^BACKEND_BATCH_MAX_WAIT_MS: must be >= 0/],
    [{ KAKAO_API_BASE_URL: 'kapi.kakao.com' }, /^KAKAO_API_BASE_URL: not an http\(s\) URL/],
    [{ MODEL_CHECKPOINT_PATH: 'missing.onnx' }, /^MODEL_CHECKPOINT_PATH: model file not found/],
    [{ ALERT_TIMEZONE: 'Asia/Seol' }, /^ALERT_TIMEZONE: not an IANA time zone name such as Asia\/Seoul \(got "Asia\/Seol"\)$/],
    [{ BACKEND_PUBLIC_URL: 'watch.example' }, /^BACKEND_PUBLIC_URL: not an http\(s\) URL/],
  ];
  for (const [env, message] of cases) {
    const err = (() => {
      try {
        loadConfig(env, dir);
      } catch (e) {
        return e;
      }
    })();
    t.type(err, ConfigError);
    t.match((err as Error).message, message);
  }
});

t.test('an empty BACKEND_EVENT_LOG_JSONL keeps no file', async (t) => {
  t.equal(loadConfig({ BACKEND_EVENT_LOG_JSONL: '' }, empty()).events.logPath, null);
});

t.test('the README documents every variable', async (t) => {
  const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
  for (const key of Object.keys(ENV_SCHEMA.properties)) t.match(readme, new RegExp(`\\| \`${key}\` \\|`), key);
});
