import { AnalyzeQuery, AnalyzeRequest, AnalyzeResponse, ErrorMessage, HTTPValidationError } from '../../contracts/api.js';
import { AppError } from '../../common/errors.js';
import { featureDimError, PackedWindow, packWindow } from '../../inference/analysis.js';
import type { ModelRegistry } from '../../inference/model-registry.js';
import { analysisResult } from '../../common/analysis-json.js';
import { defineRoute, type RouteSpec } from '../route.js';

export interface BehaviorDeps {
  /** The served set: picks the model for a window, says whether the workers have it. */
  models: Pick<ModelRegistry, 'select' | 'unavailableReason'>;
  /** Optional fast decoder of the request body straight into a packed window. */
  fastParse?: (bytes: Buffer) => PackedWindow | undefined;
  /** Counts which decoder took a body. */
  decoded?: (decoder: 'fast' | 'general') => void;
}

export function behaviorRoutes(deps: BehaviorDeps): RouteSpec<any, any>[] {
  return [
    defineRoute<AnalyzeRequest | PackedWindow, AnalyzeQuery>({
      method: 'POST',
      paths: ['/behavior/analyze'],
      name: 'behavior_analyze',
      summary: 'Score a window of pose feature frames (with the model named, or the one whose window it is)',
      tags: ['behavior'],
      body: { schema: AnalyzeRequest, fastParse: deps.fastParse },
      query: AnalyzeQuery,
      responses: {
        200: { description: 'Scores per event, thresholds, the verdict and the model that scored it', schema: AnalyzeResponse },
        422: { description: 'Not JSON, schema errors (list), a window the model cannot take, an unknown model, or a frame count that fits no model or several (message)', schema: HTTPValidationError },
        503: { description: 'Model not loaded yet, or the inference queue is full (Retry-After)', schema: ErrorMessage },
        500: { description: 'Inference failed', schema: ErrorMessage },
      },
      async handler({ body, query }) {
        const reason = deps.models.unavailableReason();
        if (reason) throw new AppError('model_unavailable', reason);
        // The fast decoder's product is known by its type: a client's JSON can never pass for it.
        // It takes only bodies without a "model" key, so the name then comes from the query alone.
        const fast = body instanceof PackedWindow;
        deps.decoded?.(fast ? 'fast' : 'general');
        const frames = fast ? body.frames : body.frames.length;
        const model = deps.models.select(query.model ?? (fast ? undefined : body.model), frames);
        let window: PackedWindow;
        if (fast) {
          // Decoded for the set's feature count; a model of another count cannot take it.
          if (body.data.length !== frames * model.featureDim) throw featureDimError(0, body.data.length / frames, model);
          window = body;
        } else {
          window = packWindow(body, model);
        }
        const scores = await model.submit(window.data, window.frames);
        return { json: analysisResult(scores, model) };
      },
    }),
  ];
}
