/**
 * Starting the real server for tests: in this process (startServer, real worker threads, real
 * model, port 0) or as a child process running src/main.ts exactly as `npm start` would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Test } from 'tap';
import { startServer, type RunningServer, type ServerSeams } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/common/log.js';
import { BUNDLED_MODEL_PATH, PROJECT_ROOT } from '../../src/common/paths.js';
import { jsonClient, type JsonClient } from './json-client.js';
import { tempDir } from './temp-dir.js';

export { tempDir };

export interface TestServer {
  url: string;
  port: number;
  dir: string;
  config: Readonly<Config>;
  server: RunningServer;
  /** A JSON client for this server (64 sockets), closed with the test. */
  client: JsonClient;
}

/** Defaults that keep tests isolated: loopback, any port, a temp dir for files. */
export function testEnv(dir: string, env: Record<string, string> = {}): Record<string, string> {
  return {
    BACKEND_HOST: '127.0.0.1',
    BACKEND_PORT: '0',
    BACKEND_INFERENCE_WORKERS: '1',
    // One model: every worker of every test server loads it, and most tests need no more (the
    // model-set tests name the bundled set themselves).
    MODEL_CHECKPOINT_PATH: BUNDLED_MODEL_PATH,
    BACKEND_EVENT_LOG_JSONL: join(dir, 'events.jsonl'),
    KAKAO_TOKEN_FILE: join(dir, 'kakao-token.json'),
    ...env,
  };
}

/** Starts the server in this process and waits until every worker has its model. */
export async function startTestServer(t: Test, env: Record<string, string> = {}, seams?: ServerSeams): Promise<TestServer> {
  const dir = tempDir();
  const config = loadConfig(testEnv(dir, { BACKEND_LOG_LEVEL: 'silent', ...env }), dir);
  const server = await startServer(config, createLogger(config.logLevel), seams);
  t.teardown(() => server.shutdown());
  await server.ready;
  const url = `http://127.0.0.1:${server.port}`;
  return { url, port: server.port, dir, config, server, client: jsonClient(t, url) };
}

export interface ChildServer {
  proc: ChildProcess;
  /** Resolves with the port once the server logs that it listens; rejects if it exits first. */
  listening: Promise<number>;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  stdout(): string;
  stderr(): string;
}

/** Runs `src/main.ts` in a child process with exactly `env` (plus PATH) in `cwd`; it must log at info or finer. */
export function spawnServer(env: Record<string, string>, cwd: string): ChildServer {
  // tsx resolved from here: the child's cwd is a temp dir without node_modules.
  const proc = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(PROJECT_ROOT, 'src/main.ts')], {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const listening = new Promise<number>((resolve, reject) => {
    proc.stdout!.on('data', (d) => {
      out += d;
      for (const line of out.split('\n')) {
        if (!line.includes('"listening"')) continue;
        try {
          resolve(JSON.parse(line).port);
        } catch {
          /* a partial line: wait for the rest */
        }
      }
    });
    exited.then((code) => reject(new Error(`server exited with ${code} before listening: ${err}`)));
  });
  listening.catch(() => {});
  return { proc, listening, exited, stdout: () => out, stderr: () => err };
}
