/**
 * The one Ajv instance. Schemas are compiled once at start; a compiled validator returns the
 * typed value or the FastAPI-style items describing every problem.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import ajvFormats from 'ajv-formats';
import { ajvErrorItems, type FastApiErrorItem } from './fastapi-errors.js';

// Bodies are JSON and keep their types; query strings are text, so their validator coerces.
const bodyAjv = new Ajv({ allErrors: true, verbose: true, strict: false, coerceTypes: false });
const queryAjv = new Ajv({ allErrors: true, verbose: true, strict: false, coerceTypes: true, useDefaults: true });
// ajv-formats is CommonJS: TypeScript (NodeNext) types the default import as the module, but at
// run time it is the plugin function itself.
const addFormats = ajvFormats as unknown as (ajv: Ajv) => Ajv;
addFormats(bodyAjv);
addFormats(queryAjv);

export type Validation<T> = { ok: true; value: T } | { ok: false; errors: FastApiErrorItem[] };

export interface Validator<T> {
  (data: unknown): Validation<T>;
  readonly schema: TSchema;
}

/** Compiles `schema` for a JSON body, or for a query string (values coerced from text). */
export function compileValidator<S extends TSchema>(schema: S, root: 'body' | 'query' = 'body'): Validator<Static<S>> {
  const check = (root === 'query' ? queryAjv : bodyAjv).compile(schema);
  const validate = (data: unknown): Validation<Static<S>> =>
    check(data) ? { ok: true, value: data as Static<S> } : { ok: false, errors: ajvErrorItems(check.errors ?? [], root) };
  return Object.assign(validate, { schema });
}
