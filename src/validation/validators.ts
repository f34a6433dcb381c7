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
 * Listing every problem costs time in proportion to the problems: a megabyte of bad values would
 * hold the main thread for a second. The listing therefore looks at the input with each array and
 * object cut to its first items; no agent's body comes near this, and a 422 lists 20 problems.
 */
const LISTING_MAX_ITEMS = 1000;

export type Validation<T> = { ok: true; value: T } | { ok: false; errors: FastApiErrorItem[] };

export interface Validator<T> {
  (data: unknown): Validation<T>;
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
  const validate = (data: unknown): Validation<Static<S>> => {
    if (check(data)) return { ok: true, value: data as Static<S> };
    const view = { clipped: false };
    // The cut-down view may even be valid: every problem lay past the cut. Then report the first one the whole input showed.
    if (listing(clipForListing(data, view))) return { ok: false, errors: firstProblem(check.errors ?? [], data, root) };
    return { ok: false, errors: ajvErrorItems(listing.errors ?? [], root, view.clipped) };
  };
  return Object.assign(validate, { schema });
}

/** `value` with arrays and objects cut to LISTING_MAX_ITEMS (copied only where cut); sets view.clipped. */
function clipForListing(value: unknown, view: { clipped: boolean }): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const items = value.length > LISTING_MAX_ITEMS ? ((view.clipped = true), value.slice(0, LISTING_MAX_ITEMS)) : value;
    let copy: unknown[] | null = items === value ? null : items;
    for (let i = 0; i < items.length; i++) {
      const inner = clipForListing(items[i], view);
      if (inner !== items[i]) (copy ??= items.slice())[i] = inner;
    }
    return copy ?? value;
  }
  const keys = Object.keys(value);
  if (keys.length > LISTING_MAX_ITEMS) view.clipped = true;
  let copy: Record<string, unknown> | null = keys.length > LISTING_MAX_ITEMS ? {} : null;
  const kept = keys.slice(0, LISTING_MAX_ITEMS);
  for (const key of kept) {
    const original = (value as Record<string, unknown>)[key];
    const inner = clipForListing(original, view);
    if (inner !== original && !copy) {
      copy = {};
      for (const k of kept) defineKey(copy, k, (value as Record<string, unknown>)[k]);
    }
    if (copy) defineKey(copy, key, inner);
  }
  return copy ?? value;
}

/** An own property even for "__proto__". */
function defineKey(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** The first problem (found without `verbose`, so its value is looked up here) and a note that the rest are not listed. */
function firstProblem(errors: readonly ErrorObject[], data: unknown, root: string): FastApiErrorItem[] {
  const withData = errors.map((err) => ({ ...err, data: valueAt(data, err.instancePath) }));
  const items = ajvErrorItems(withData, root).slice(0, 1);
  items.push({ type: 'too_many_errors', loc: [root], msg: 'further problems are not listed', input: null });
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
