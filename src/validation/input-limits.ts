/**
 * Limits on what client input may cost the server: how deep a JSON document may nest (checked on
 * the raw text before any parser or validator recurses into it), and how much of a client's input
 * is echoed back in an error or written into a log line.
 */

/** Deepest nesting of arrays and objects accepted in a JSON body or stream message. The agents' deepest is 4. */
export const MAX_NESTING_DEPTH = 32;

/** Longest string echoed back (in a 422's `input`, an error message or a log line). */
const MAX_ECHO_CHARS = 200;
/** Elements of an array, or keys of an object, echoed back; the rest are summarised. */
const MAX_ECHO_ITEMS = 20;
/** Levels of an echoed value shown; deeper ones are summarised. */
const MAX_ECHO_DEPTH = 3;

/**
 * The offset (in UTF-16 units of `text`) of the bracket that opens level MAX_NESTING_DEPTH + 1,
 * or -1 when the document nests no deeper than the limit. Brackets inside strings do not count.
 * One linear pass with no recursion, so it is safe on any input.
 */
export function tooDeepAt(text: string, limit = MAX_NESTING_DEPTH): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) {
      inString = true;
    } else if (c === 91 || c === 123) {
      if (++depth > limit) return i;
    } else if (c === 93 || c === 125) {
      depth--;
    }
  }
  return -1;
}

/** `text` cut to MAX_ECHO_CHARS characters (never inside a surrogate pair), with a note of what was cut. */
export function clipText(text: string, max = MAX_ECHO_CHARS): string {
  if (text.length <= max) return text;
  let end = max;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}… (${text.length - end} more characters)`;
}

/**
 * A bounded copy of a client's value for echoing back: strings clipped, arrays and objects cut to
 * their first items and levels. Never recurses deeper than MAX_ECHO_DEPTH, whatever `value` is.
 */
export function clipValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return clipText(value);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    if (depth >= MAX_ECHO_DEPTH) return `[… ${value.length} items]`;
    const items = value.slice(0, MAX_ECHO_ITEMS).map((v) => clipValue(v, depth + 1));
    if (value.length > MAX_ECHO_ITEMS) items.push(`… ${value.length - MAX_ECHO_ITEMS} more items`);
    return items;
  }
  const keys = Object.keys(value);
  if (depth >= MAX_ECHO_DEPTH) return `{… ${keys.length} keys}`;
  const out: Record<string, unknown> = {};
  for (const key of keys.slice(0, MAX_ECHO_ITEMS)) {
    // defineProperty: a client's "__proto__" key stays an ordinary key of the copy.
    Object.defineProperty(out, clipText(key), { value: clipValue((value as Record<string, unknown>)[key], depth + 1), enumerable: true, writable: true, configurable: true });
  }
  if (keys.length > MAX_ECHO_ITEMS) out['…'] = `${keys.length - MAX_ECHO_ITEMS} more keys`;
  return out;
}

/** A short, bounded description of a client's value for an error message (never throws, never recurses deeply). */
export function describeValue(value: unknown): string {
  try {
    return clipText(JSON.stringify(clipValue(value)) ?? String(value));
  } catch {
    return typeof value;
  }
}
