/**
 * Baseline (c), what a naive port would do: node:http, JSON.parse, copy into a Float32Array and
 * session.run on the main thread, one window per run, no batching. Only /behavior/analyze and /health.
 * A child process of the benchmark: prints {"msg":"listening","port":N}; SIGTERM stops it.
 *
 *   node --import tsx bench/baselines/naive-node-http.ts <model.onnx> [intra-op threads, default: cores]
 */
import { createServer, type ServerResponse } from 'node:http';
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import type { AnalyzeRequest } from '../../src/contracts/api.js';
import { analysisResult } from '../../src/common/analysis-json.js';
import { readModelMeta } from '../../src/common/model-meta.js';

const [modelPath, threadsArg] = process.argv.slice(2);
if (!modelPath) throw new Error('usage: naive-node-http.ts <model.onnx> [threads]');
const meta = readModelMeta(modelPath);
// onnxruntime's own default is one intra-op thread per core, which is what a port would get
const session = await ort.InferenceSession.create(modelPath, { executionProviders: ['cpu'], intraOpNumThreads: Number(threadsArg ?? availableParallelism()) });
const outputs = { events: meta.events, thresholds: meta.thresholds };

/** What a port would write: the request's numbers copied into one Float32Array, no checks beyond the shape. */
async function score(request: AnalyzeRequest): Promise<Float32Array> {
  const frames = request.frames.length;
  const data = new Float32Array(frames * meta.featureDim);
  request.frames.forEach((frame, f) => {
    if (frame.features.length !== meta.featureDim) throw new Error(`expected feature dimension ${meta.featureDim}, got ${frame.features.length} (frame ${f})`);
    data.set(frame.features, f * meta.featureDim);
  });
  const result = await session.run({ [meta.inputName]: new ort.Tensor('float32', data, [1, frames, meta.featureDim]) });
  return result[meta.outputName]!.data as Float32Array;
}

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
      const scores = await score(JSON.parse(Buffer.concat(parts).toString('utf8')) as AnalyzeRequest);
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
  void session.release().finally(() => process.exit(0));
});
