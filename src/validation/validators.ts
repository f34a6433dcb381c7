/**
 * The one Ajv instance. Schemas are compiled once at start; a compiled validator returns the
 * typed value or the FastAPI-style items describing every problem.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import { Ajv, type ErrorObject } from 'ajv';
import ajvFormats from 'ajv-formats';
import { ajvErrorItems, type FastApiErrorItem } from './fastapi-errors.js';

// Bodies are JSON and keep their types; query strings are text, so their validator coerces.
// Each schema is compiled twice: stopping at the first problem (the check every request pays),
// and listing every problem (only for a failed input small enough that listing stays cheap).
const bodyAjv = new Ajv({ allErrors: false, strict: false, coerceTypes: false });
const bodyAjvListing = new Ajv({ allErrors: true, verbose: true, strict: false, coerceTypes: false });
const queryAjv = new Ajv({ allErrors: true, verbose: true, strict: false, coerceTypes: true, useDefaults: true });
// ajv-formats is CommonJS: TypeScript (NodeNext) types the default import as the module, but at
// run time it is the plugin function itself.
const addFormats = ajvFormats as unknown as (ajv: Ajv) => Ajv;
for (const ajv of [bodyAjv, bodyAjvListing, queryAjv]) addFormats(ajv);

/**
 * Failed inputs up to this size get every problem listed (FastAPI's behaviour); larger ones only
 * the first. Listing costs time in proportion to the problems: a megabyte of bad values would
 * hold the main thread for a second or more.
 */
export const LIST_ALL_PROBLEMS_MAX_CHARS = 16 * 1024;

export type Validation<T> = { ok: true; value: T } | { ok: false; errors: FastApiErrorItem[] };

export interface Validator<T> {
  /** `inputChars`: the size of the text `data` was parsed from, when known (decides how problems are listed). */
  (data: unknown, inputChars?: number): Validation<T>;
  readonly schema: TSchema;
}

/** Compiles `schema` for a JSON body, or for a query string (values coerced from text). */
export function compileValidator<S extends TSchema>(schema: S, root: 'body' | 'query' = 'body'): Validator<Static<S>> {
  if (root === 'query') {
    const check = queryAjv.compile(schema);
    const validate = (data: unknown): Validation<Static<S>> =>
      check(data) ? { ok: true, value: data as Static<S> } : { ok: false, errors: ajvErrorItems(check.errors ?? [], root) };
    return Object.assign(validate, { schema });
  }
  const check = bodyAjv.compile(schema);
  const listing = bodyAjvListing.compile(schema);
  const validate = (data: unknown, inputChars = 0): Validation<Static<S>> => {
    if (check(data)) return { ok: true, value: data as Static<S> };
    if (inputChars > LIST_ALL_PROBLEMS_MAX_CHARS) return { ok: false, errors: firstProblem(check.errors ?? [], data, root) };
    listing(data);
    return { ok: false, errors: ajvErrorItems(listing.errors ?? [], root) };
  };
  return Object.assign(validate, { schema });
}

/** The first problem (found without `verbose`, so its value is looked up here) and a note that the rest are not listed. */
function firstProblem(errors: readonly ErrorObject[], data: unknown, root: string): FastApiErrorItem[] {
  const withData = errors.map((err) => ({ ...err, data: valueAt(data, err.instancePath) }));
  const items = ajvErrorItems(withData, root).slice(0, 1);
  items.push({ type: 'too_many_errors', loc: [root], msg: 'further problems are not listed for an input this large', input: null });
  return items;
}

function valueAt(data: unknown, pointer: string): unknown {
  let value = data;
  for (const segment of pointer.split('/').slice(1)) {
    if (value === null || typeof value !== 'object') return undefined;
    const key = segment.replace(/~1/g, '/').replace(/~0/g, '~');
    value = Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined;
  }
  return value;
}
