/**
 * Process entry: configuration, logger, server, signals, exit codes. A configuration or model
 * problem stops the process with one plain line on stderr and exit code 1 — no stack trace.
 * With BACKEND_PROCESSES above 1 this process becomes the supervisor of that many server processes
 * (src/supervisor.ts) and loads nothing of the server itself.
 */
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger } from './common/log.js';
import { ModelError } from './common/model-meta.js';
import type { RunningServer } from './app.js';
import { supervise, supervisorLink } from './supervisor.js';

function refuseToStart(message: string): never {
  process.stderr.write(`startup refused: ${message}\n`);
  process.exit(1);
}

let config: Readonly<Config>;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) refuseToStart(err.message);
  throw err;
}

const logger = createLogger(config.logLevel);
// The last line of defence: request, stream and event paths catch their own errors, so anything
// arriving here is a bug. Log it and keep serving — one bad input must not stop every camera.
process.on('uncaughtException', (err) => logger.error({ err }, 'uncaught exception; still serving'));
process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled rejection; still serving'));

if (config.processes > 1) {
  const exitCode = await supervise(config, logger).catch((err: Error) => refuseToStart(err.message));
  process.exit(exitCode);
}

const supervisor = supervisorLink();
let server: RunningServer | undefined;
let stopSignal: string | null = null;

function shutdownAndExit(running: RunningServer): void {
  // In-flight requests, then pending Kakao memos, each have their own bound; this one is a last resort.
  const forced = setTimeout(() => {
    logger.error('shutdown took too long; exiting');
    process.exit(1);
  }, config.http.shutdownTimeoutMs + config.kakao.timeoutMs + 5000);
  forced.unref();
  running.shutdown().then(() => process.exit(0), (err) => {
    logger.error({ err }, 'shutdown failed');
    process.exit(1);
  });
}

// Signal handlers come first: a signal that arrives while the server starts must not kill it
// half-way (SIGHUP from logrotate) or skip the orderly shutdown (SIGTERM from an orchestrator).
const stop = (signal: string) => {
  if (stopSignal) return;
  stopSignal = signal;
  logger.info({ signal }, 'signal received');
  if (server) shutdownAndExit(server);
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
// A server process whose supervisor is gone (killed, say) stops too rather than serve on unwatched.
supervisor?.onGone(() => stop('supervisor gone'));
// logrotate moves the file away, then sends SIGHUP: start a new file at the configured path.
process.on('SIGHUP', () => {
  logger.info('SIGHUP: reopening the event log');
  server?.reopenEventLog();
});
// SIGUSR2: re-read the model set (as POST /admin/models/reload); the outcome is logged by the reload.
process.on('SIGUSR2', () => {
  if (!server || stopSignal) return;
  logger.info('SIGUSR2: reloading the models');
  server.reloadModels().catch((err: unknown) => logger.error({ err }, 'model reload failed'));
});

try {
  const { startServer } = await import('./app.js');
  server = await startServer(config, logger, {}, supervisor);
} catch (err) {
  if (err instanceof ModelError) refuseToStart(`${config.model.variable}: ${err.message}`);
  refuseToStart((err as Error).message);
}
if (stopSignal) shutdownAndExit(server);
supervisor?.listening(server.port);

try {
  await server.ready;
  supervisor?.ready();
} catch (err) {
  if (!stopSignal) {
    await server.shutdown();
    refuseToStart(`${config.model.variable}: ${(err as Error).message}`);
  }
}
