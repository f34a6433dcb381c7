/**
 * Ajv and JSON syntax errors in the shape FastAPI + pydantic v2 gives them, so agents and
 * tooling written against the seed read our 422s unchanged:
 *   {"detail": [{"type": ..., "loc": ["body", ...], "msg": ..., "input": ...}, ...]}
 */
import type { ErrorObject } from 'ajv';
import { parse as parseLenient, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { MAX_NESTING_DEPTH, clipValue } from './input-limits.js';

export interface FastApiErrorItem {
  type: string;
  loc: (string | number)[];
  msg: string;
  input: unknown;
  ctx?: Record<string, unknown>;
}

/** Python's json module wording for the first syntax error, as FastAPI reports it in ctx.error. */
// Keyed by jsonc-parser's code names: its ParseErrorCode is a const enum, which isolated modules cannot read.
const PYTHON_JSON_MESSAGES: Partial<Record<ReturnType<typeof printParseErrorCode>, string>> = {
  PropertyNameExpected: 'Expecting property name enclosed in double quotes',
  ColonExpected: "Expecting ':' delimiter",
  CommaExpected: "Expecting ',' delimiter",
  CloseBraceExpected: "Expecting ',' delimiter",
  CloseBracketExpected: "Expecting ',' delimiter",
  UnexpectedEndOfString: 'Unterminated string starting at',
  InvalidCharacter: 'Invalid control character at',
  InvalidEscapeCharacter: 'Invalid \\escape',
  InvalidUnicode: 'Invalid \\uXXXX escape',
};

/**
 * The 422 item for a body JSON.parse rejected. V8's messages do not always carry a position,
 * so the (rare) error path re-scans the text to find the byte offset of the first problem.
 */
export function jsonErrorItem(text: string): FastApiErrorItem {
  const errors: ParseError[] = [];
  parseLenient(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  const first = errors[0];
  const charOffset = first ? first.offset : text.length;
  const trailing = first && printParseErrorCode(first.error) === 'InvalidSymbol' && charOffset > 0 && text.slice(0, charOffset).trim() !== '';
  const message = !first ? 'Expecting value' : trailing ? 'Extra data' : (PYTHON_JSON_MESSAGES[printParseErrorCode(first.error)] ?? 'Expecting value');
  return {
    type: 'json_invalid',
    loc: ['body', Buffer.byteLength(text.slice(0, charOffset))],
    msg: 'JSON decode error',
    input: {},
    ctx: { error: message },
  };
}

/** The 422 item for a body nested deeper than MAX_NESTING_DEPTH; `charOffset` is where the limit was passed. */
export function tooDeepItem(text: string, charOffset: number): FastApiErrorItem {
  return {
    type: 'json_invalid',
    loc: ['body', Buffer.byteLength(text.slice(0, charOffset))],
    msg: 'JSON decode error',
    input: {},
    ctx: { error: `Nesting deeper than ${MAX_NESTING_DEPTH} levels` },
  };
}

/** The item for a request whose body is required but empty. */
export function missingBodyItem(): FastApiErrorItem {
  return { type: 'missing', loc: ['body'], msg: 'Field required', input: null };
}

/** Problems listed in one 422; a body with more gets a last item saying how many were left out. */
export const MAX_ERROR_ITEMS = 20;

/**
 * Ajv errors (allErrors + verbose) → pydantic-style items, one per problem, `loc` rooted at `root`.
 * At most MAX_ERROR_ITEMS are listed and each `input` is a clipped copy, so the answer stays small
 * whatever the body held (a megabyte of bad values must not become a 50 MB answer).
 */
export function ajvErrorItems(errors: readonly ErrorObject[], root: string, partial = false): FastApiErrorItem[] {
  const items: FastApiErrorItem[] = [];
  let omitted = 0;
  for (const err of errors) {
    if (items.length === MAX_ERROR_ITEMS) {
      if (err.keyword !== 'anyOf' && err.keyword !== 'if') omitted++;
      continue;
    }
    const item = ajvErrorItem(err, root);
    if (item) items.push({ ...item, input: clipValue(item.input) });
  }
  // `partial`: the errors came from a cut-down view of the input, so there may be more than counted.
  if (omitted > 0 || partial) items.push({ type: 'too_many_errors', loc: [root], msg: partial ? (omitted ? `at least ${omitted} more problems not listed` : 'further problems not listed') : `${omitted} more problems not listed`, input: null });
  return items;
}

function ajvErrorItem(err: ErrorObject, root: string): FastApiErrorItem | null {
  const loc: (string | number)[] = [root, ...pathSegments(err.instancePath)];
  const input = err.data;
  switch (err.keyword) {
    case 'required':
      return { type: 'missing', loc: [...loc, String(err.params.missingProperty)], msg: 'Field required', input };
    case 'type': {
      const { type, msg } = typeError(String(err.params.type), input);
      return { type, loc, msg, input };
    }
    case 'enum': {
      const expected = (err.params.allowedValues as unknown[]).map((v) => `'${String(v)}'`);
      const list = expected.length > 1 ? `${expected.slice(0, -1).join(', ')} or ${expected.at(-1)}` : expected.join('');
      return { type: 'literal_error', loc, msg: `Input should be ${list}`, input, ctx: { expected: list } };
    }
    case 'minItems':
      return { type: 'too_short', loc, msg: `List should have at least ${err.params.limit} item${err.params.limit === 1 ? '' : 's'} after validation, not ${(input as unknown[]).length}`, input };
    case 'maxItems':
      return { type: 'too_long', loc, msg: `List should have at most ${err.params.limit} items after validation, not ${(input as unknown[]).length}`, input };
    case 'format':
      return { type: 'datetime_parsing', loc, msg: `Input should be a valid ${err.params.format === 'date-time' ? 'datetime' : String(err.params.format)}`, input };
    case 'minimum':
    case 'maximum':
      return { type: err.keyword === 'minimum' ? 'greater_than_equal' : 'less_than_equal', loc, msg: `Input should be ${err.keyword === 'minimum' ? 'greater' : 'less'} than or equal to ${err.params.limit}`, input };
    case 'anyOf':
    case 'if':
      return null; // the branch errors already name the problem
    default:
      return { type: 'value_error', loc, msg: err.message ?? 'Invalid value', input };
  }
}

function typeError(expected: string, input: unknown): Pick<FastApiErrorItem, 'type' | 'msg'> {
  const main = expected.split(',').find((t) => t !== 'null') ?? expected;
  switch (main) {
    case 'number':
      return typeof input === 'string'
        ? { type: 'float_parsing', msg: 'Input should be a valid number, unable to parse string as a number' }
        : { type: 'float_type', msg: 'Input should be a valid number' };
    case 'integer':
      if (typeof input === 'number') return { type: 'int_from_float', msg: 'Input should be a valid integer, got a number with a fractional part' };
      if (typeof input === 'string') return { type: 'int_parsing', msg: 'Input should be a valid integer, unable to parse string as an integer' };
      return { type: 'int_type', msg: 'Input should be a valid integer' };
    case 'string':
      return { type: 'string_type', msg: 'Input should be a valid string' };
    case 'array':
      return { type: 'list_type', msg: 'Input should be a valid list' };
    case 'object':
      return { type: 'model_attributes_type', msg: 'Input should be a valid dictionary or object to extract fields from' };
    case 'boolean':
      return { type: 'bool_type', msg: 'Input should be a valid boolean' };
    default:
      return { type: `${main}_type`, msg: `Input should be a valid ${main}` };
  }
}

/** '/frames/3/features' → ['frames', 3, 'features'] (JSON Pointer, unescaped). */
function pathSegments(pointer: string): (string | number)[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** A request that failed JSON parsing or its schema; answered 422 with `{"detail": items}`. */
export class RequestValidationError extends Error {
  constructor(readonly items: FastApiErrorItem[]) {
    super('request validation failed');
    this.name = 'RequestValidationError';
  }
}
