import { Worker, type WorkerOptions } from 'node:worker_threads';
import { workerUrl } from './common/paths.js';

/**
 * Starts workers/<name>.worker as a thread. From the build it is the .js file itself. Under tsx
 * (dev, tests) Node 20 does not carry tsx's ESM hooks into new threads, so the entry is a small
 * JavaScript shim that registers them in the thread, then imports the TypeScript module.
 */
export function startWorkerThread(name: string, options: WorkerOptions = {}): Worker {
  const url = workerUrl(name);
  if (!url.pathname.endsWith('.ts')) return new Worker(url, options);
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const shim = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(shim, { ...options, eval: true });
}
