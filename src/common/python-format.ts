/**
 * Formatting that matches Python, so the event log and the memo text stay byte-for-byte what the
 * seed wrote: repr(float) for JSON floats, format(x, '.Nf') for fixed decimals, and json.dumps.
 */

/** Python's repr(float): shortest round-trip digits, '.0' on integral values, exponent form below 1e-4 and from 1e16. */
export function pythonFloat(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  // toExponential() without an argument yields the same shortest digits as Python's repr.
  const [mantissa, exponent] = Math.abs(x).toExponential().split('e');
  const digits = mantissa!.replace('.', '');
  const pointAt = Number(exponent) + 1; // value = 0.<digits> × 10^pointAt
  if (pointAt > -4 && pointAt <= 16) {
    if (pointAt <= 0) return `${sign}0.${'0'.repeat(-pointAt)}${digits}`;
    if (pointAt >= digits.length) return `${sign}${digits}${'0'.repeat(pointAt - digits.length)}.0`;
    return `${sign}${digits.slice(0, pointAt)}.${digits.slice(pointAt)}`;
  }
  const exp = pointAt - 1;
  const fraction = digits.length > 1 ? `.${digits.slice(1)}` : '';
  return `${sign}${digits[0]}${fraction}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}

/**
 * Python's format(x, '.Nf'). JavaScript's toFixed rounds an exact tie away from zero where Python
 * rounds it to even (2.25 → '2.3' vs '2.2'), so ties are detected on the exact binary value.
 */
export function pythonFixed(x: number, digits: number): string {
  const rounded = x.toFixed(digits);
  if (!Number.isFinite(x) || Math.abs(x) >= 1e21) return rounded;
  // toFixed(100) is exact for every double that can sit on a tie at `digits` places.
  const exact = Math.abs(x).toFixed(100);
  const point = exact.indexOf('.');
  if (!/^50*$/.test(exact.slice(point + 1 + digits))) return rounded;
  const truncated = exact.slice(0, digits === 0 ? point : point + 1 + digits);
  if (Number(truncated.at(-1)) % 2 === 1) return rounded;
  return (x < 0 ? '-' : '') + truncated;
}

/**
 * A value as Python's json.dumps(ensure_ascii=False) writes it; `asFloat` prints numbers as floats.
 * An integral number prints as an int: JSON.parse cannot tell 5 from 5.0.
 */
export function pythonJson(value: unknown, asFloat = false, separator = ', ', colon = ': '): string {
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return !asFloat && Number.isInteger(value) && Math.abs(value) < 1e16 ? String(value) : pythonFloat(value);
    case 'object':
      if (Array.isArray(value)) return `[${value.map((v) => pythonJson(v, asFloat, separator, colon)).join(separator)}]`;
      return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}${colon}${pythonJson(v, asFloat, separator, colon)}`).join(separator)}}`;
    default:
      return JSON.stringify(String(value));
  }
}

/** An object as pythonJson writes it, with the keys in `floatFields` printed as floats. */
export function pythonObject(data: Record<string, unknown>, floatFields: ReadonlySet<string> | null, separator = ', ', colon = ': '): string {
  const parts = Object.entries(data).map(([k, v]) => `${JSON.stringify(k)}${colon}${pythonJson(v, floatFields?.has(k) ?? false, separator, colon)}`);
  return `{${parts.join(separator)}}`;
}
