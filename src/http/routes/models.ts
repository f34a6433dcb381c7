/**
 * What is served and its swap: GET /models, GET /models/{name}, POST /admin/models/reload.
 */
import { describeValue } from '../../validation/input-limits.js';
import { ErrorMessage, ModelInfo, ModelList, ReloadResponse } from '../../contracts/api.js';
import { AppError } from '../../common/errors.js';
import type { ModelRegistry, ReloadOutcome, ServedModel } from '../../inference/model-registry.js';
import { defineRoute, type RouteSpec } from '../route.js';

export type ModelsDeps = Pick<ModelRegistry, 'models' | 'get' | 'reload' | 'poolStatus'>;

const unauthorized = { 401: { description: 'BACKEND_ADMIN_TOKEN is set and the request does not carry it' } };

/** A model as GET /models describes it. */
export function modelInfo(model: ServedModel, device: string | null): Record<string, unknown> {
  const { meta } = model;
  return {
    name: model.name,
    version: model.version,
    events: meta.events,
    thresholds: meta.thresholds,
    window: meta.windowSize,
    feature_dim: meta.featureDim,
    input_name: meta.inputName,
    output_name: meta.outputName,
    device,
    loaded_at: model.loadedAt.toISOString(),
    path: model.description.path,
    source: meta.source,
  };
}

export function reloadBody(outcome: ReloadOutcome): Record<string, unknown> {
  const { ok, ...rest } = outcome;
  return { status: ok ? 'reloaded' : 'failed', ...rest };
}

export function modelRoutes(models: ModelsDeps): RouteSpec<any, any>[] {
  return [
    defineRoute({
      method: 'GET',
      paths: ['/models'],
      name: 'models',
      summary: 'The models served: name, version, events, thresholds, window, tensors, device, when loaded, provenance',
      tags: ['models'],
      responses: { 200: { description: 'Every model taking requests', schema: ModelList } },
      handler: () => {
        const device = models.poolStatus().provider;
        return { json: { models: models.models.map((m) => modelInfo(m, device)) } };
      },
    }),
    defineRoute({
      method: 'GET',
      paths: ['/models/:name'],
      name: 'model',
      summary: 'One served model',
      tags: ['models'],
      responses: {
        200: { description: 'The model', schema: ModelInfo },
        404: { description: 'No model of that name is served', schema: ErrorMessage },
      },
      handler: ({ exchange }) => {
        const name = exchange.params[0] ?? '';
        const model = models.get(name);
        if (!model) throw new AppError('not_found', `no model named ${describeValue(name)}; this server serves ${models.models.map((m) => m.name).join(', ')}`);
        return { json: modelInfo(model, models.poolStatus().provider) };
      },
    }),
    defineRoute({
      method: 'POST',
      paths: ['/admin/models/reload'],
      name: 'models_reload',
      summary: 'Re-read the model set (MODEL_CHECKPOINT_PATH) and switch to it once every worker has loaded it, without dropping a request',
      tags: ['models'],
      admin: true,
      responses: {
        200: { description: 'The new set serves: what was added, removed or changed', schema: ReloadResponse },
        422: { description: 'The new set could not be loaded; the previous one keeps serving (`reason` says why)', schema: ReloadResponse },
        ...unauthorized,
      },
      handler: async () => {
        const outcome = await models.reload();
        return { status: outcome.ok ? 200 : 422, json: reloadBody(outcome) };
      },
    }),
  ];
}
