/**
 * JSON as text, for fuzzing: a tree whose leaves are exact JSON texts (number spellings such as
 * `1e-400` or `-0`, strings with escapes or lone surrogates, deep nesting, even broken text), so
 * generated inputs reach the server byte for byte as generated, and a short describer that keeps
 * counterexamples readable when they hold thousands of brackets or a megabyte of string.
 */

export type JsonText =
  | { t: 'raw'; text: string }
  | { t: 'arr'; items: JsonText[] }
  | { t: 'obj'; entries: JsonEntry[] };

export interface JsonEntry {
  /** The key's JSON text, quotes included: `"frames"`, `"fr\u0061mes"`, `"__proto__"`. */
  key: string;
  value: JsonText;
}

export const raw = (text: string): JsonText => ({ t: 'raw', text });
export const arr = (items: JsonText[]): JsonText => ({ t: 'arr', items });
export const obj = (entries: JsonEntry[]): JsonText => ({ t: 'obj', entries });
export const entry = (name: string, value: JsonText): JsonEntry => ({ key: JSON.stringify(name), value });

/** A plain JS value as a tree (numbers and strings as JSON.stringify writes them). */
export function fromValue(value: unknown): JsonText {
  if (Array.isArray(value)) return arr(value.map(fromValue));
  if (value !== null && typeof value === 'object') return obj(Object.entries(value).map(([k, v]) => entry(k, fromValue(v))));
  return raw(value === undefined ? 'null' : JSON.stringify(value));
}

export interface Layout {
  /** Whitespace put after `[`, `{`, `,` and `:` (JSON allows space, tab, CR, LF). */
  space?: string;
}

export function serialize(node: JsonText, layout: Layout = {}): string {
  const s = layout.space ?? '';
  const parts: string[] = [];
  const walk = (n: JsonText): void => {
    switch (n.t) {
      case 'raw':
        parts.push(n.text);
        return;
      case 'arr':
        parts.push('[', s);
        n.items.forEach((item, i) => {
          if (i) parts.push(',', s);
          walk(item);
        });
        parts.push(']');
        return;
      case 'obj':
        parts.push('{', s);
        n.entries.forEach((e, i) => {
          if (i) parts.push(',', s);
          parts.push(e.key, ':', s);
          walk(e.value);
        });
        parts.push('}');
        return;
    }
  };
  walk(node);
  return parts.join('');
}

/**
 * A short, faithful description of a long text: runs of one repeated character or chunk are
 * written `"["×6000`, and what is still long is cut in the middle with its length.
 */
export function describeText(text: string, max = 600): string {
  const runs = visible(text).replace(/(.{1,16}?)\1{9,}/gs, (m, unit: string) => `‹${JSON.stringify(unit)}×${m.length / unit.length}›`);
  if (runs.length <= max) return runs;
  return `${runs.slice(0, max / 2)}‹…${runs.length - max} chars…›${runs.slice(-max / 2)} (${text.length} chars in all)`;
}

/** describeText that stays cheap on megabytes: only the two ends of a long text are looked at. */
export function describeEnds(text: string, max = 160): string {
  if (text.length <= 4_000) return describeText(text, max);
  return `${describeText(text.slice(0, 2_000), max / 2)}‹…›${describeText(text.slice(-1_000), max / 2)} (${text.length} chars in all)`;
}

/** describeText for bytes: UTF-8 where it decodes, else hex. */
export function describeBytes(bytes: Uint8Array, max = 600): string {
  const text = Buffer.from(bytes).toString('utf8');
  if (!text.includes('\uFFFD')) return describeText(text, max);
  return `hex:${describeText(Buffer.from(bytes).toString('hex'), max)}`;
}

/** Control characters, line separators and lone surrogates as \u escapes: reports stay one line each. */
export function visible(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, (c) =>
    c === '\n' ? '\\n' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
