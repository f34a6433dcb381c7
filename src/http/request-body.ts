/**
 * Turning a route's body bytes into its validated value: the route's fast path when it has one,
 * else JSON.parse and the compiled schema, with errors in FastAPI's shape. Nesting is capped
 * before parsing.
 */
import { RequestValidationError, jsonErrorItem, missingBodyItem, tooDeepItem } from '../validation/fastapi-errors.js';
import { tooDeepAt } from '../validation/input-limits.js';
import type { Validator } from '../validation/validators.js';

export function parseJsonBody<T>(bytes: Buffer, validate: Validator<T>, fastParse?: (bytes: Buffer) => T | undefined, optional = false): T | undefined {
  if (optional && bytes.length === 0) return undefined;
  if (fastParse) {
    const value = fastParse(bytes);
    if (value !== undefined) return value;
  }
  if (bytes.length === 0) throw new RequestValidationError([missingBodyItem()]);
  const text = bytes.toString('utf8');
  // Before any parser or validator recurses into it: a few KB of brackets must not exhaust the stack.
  const deepAt = tooDeepAt(text);
  if (deepAt >= 0) throw new RequestValidationError([tooDeepItem(text, deepAt)]);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new RequestValidationError([jsonErrorItem(text)]);
  }
  const result = validate(data);
  if (!result.ok) throw new RequestValidationError(result.errors);
  return result.value;
}

/** A query string as an object of its first values, for the query schema to coerce and check. */
export function queryObject(query: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!query) return out;
  for (const [key, value] of new URLSearchParams(query)) if (!(key in out)) out[key] = value;
  return out;
}
