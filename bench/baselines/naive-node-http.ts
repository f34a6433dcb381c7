/**
 * Baseline (c), what a naive port would do: node:http, JSON.parse, copy into a Float32Array and
 * session.run on the main thread, one window per run, no batching. Only /behavior/analyze and /health.
 * A child process of the benchmark: prints {"msg":"listening","port":N}; SIGTERM stops it.
 *
 *   node --import tsx bench/baselines/naive-node-http.ts <model.onnx> [intra-op threads, default: cores]
 */
import { createServer, type ServerResponse } from 'node:http';
import { availableParallelism } from 'node:os';
import { analysisResult, packWindow } from '../../src/inference/analysis.js';
import type { AnalyzeRequest } from '../../src/contracts/api.js';
import { openOnnxModel } from '../../workers/inference/onnx-model.js';

const [modelPath, threadsArg] = process.argv.slice(2);
if (!modelPath) throw new Error('usage: naive-node-http.ts <model.onnx> [threads]');
// onnxruntime's own default is one intra-op thread per core, which is what a port would get
const model = await openOnnxModel(modelPath, { device: 'cpu', intraOpThreads: Number(threadsArg ?? availableParallelism()) });
const shape = { featureDim: model.meta.featureDim, windowSize: model.meta.windowSize };
const outputs = { events: model.meta.events, thresholds: model.meta.thresholds };

function reply(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
}

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/health') return reply(res, 200, '{"status":"ok"}');
  if (req.method !== 'POST' || req.url !== '/behavior/analyze') return reply(res, 404, '{"detail":"Not Found"}');
  const parts: Buffer[] = [];
  req.on('data', (chunk: Buffer) => parts.push(chunk));
  req.on('end', async () => {
    try {
      const window = packWindow(JSON.parse(Buffer.concat(parts).toString('utf8')) as AnalyzeRequest, shape);
      const scores = await model.run(window.data, 1, window.frames);
      reply(res, 200, JSON.stringify(analysisResult(scores, outputs)));
    } catch (err) {
      reply(res, 422, JSON.stringify({ detail: (err as Error).message }));
    }
  });
});

server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port })}\n`);
});
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void model.release().finally(() => process.exit(0));
});
