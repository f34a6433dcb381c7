import { AnalyzeRequest, AnalyzeResponse, ErrorMessage, HTTPValidationError } from '../../contracts/api.js';
import { AppError } from '../../shared/errors.js';
import { PackedWindow, packWindow, type WindowShape } from '../../inference/analysis.js';
import { analysisResult, type ModelOutputs } from '../../shared/analysis-json.js';
import { defineRoute, type RouteSpec } from '../route.js';

export interface BehaviorDeps {
  model: ModelOutputs & WindowShape;
  /** Queues a packed window for inference; resolves with its scores. */
  analyze(window: PackedWindow): Promise<Float32Array>;
  /** Null when the model is ready, else why not (→ 503). */
  unavailableReason(): string | null;
  /** Optional fast decoder of the request body straight into a packed window. */
  fastParse?: (bytes: Buffer) => PackedWindow | undefined;
  /** Counts which decoder took a body. */
  decoded?: (decoder: 'fast' | 'general') => void;
}

export function behaviorRoutes(deps: BehaviorDeps): RouteSpec<any, any>[] {
  return [
    defineRoute<AnalyzeRequest | PackedWindow>({
      method: 'POST',
      paths: ['/behavior/analyze'],
      name: 'behavior_analyze',
      summary: 'Score a window of pose feature frames',
      tags: ['behavior'],
      body: { schema: AnalyzeRequest, fastParse: deps.fastParse },
      responses: {
        200: { description: 'Scores per event, thresholds and the verdict', schema: AnalyzeResponse },
        422: { description: 'Not JSON, schema errors (list), or a window the model cannot take (message)', schema: HTTPValidationError },
        503: { description: 'Model not loaded yet, or the inference queue is full (Retry-After)', schema: ErrorMessage },
        500: { description: 'Inference failed', schema: ErrorMessage },
      },
      async handler({ body }) {
        const reason = deps.unavailableReason();
        if (reason) throw new AppError('model_unavailable', reason);
        // The fast decoder's product is known by its type: a client's JSON can never pass for it.
        const fast = body instanceof PackedWindow;
        deps.decoded?.(fast ? 'fast' : 'general');
        const window = fast ? body : packWindow(body, deps.model);
        const scores = await deps.analyze(window);
        return { json: analysisResult(scores, deps.model) };
      },
    }),
  ];
}
