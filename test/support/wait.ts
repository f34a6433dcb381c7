/** Waiting for a condition instead of sleeping for a guessed time. */

/**
 * Polls `check` (every 20 ms) until it holds; fails after `timeoutMs`, naming `what`. The bound is
 * for a stuck test, never a speed requirement: keep it generous (a loaded CI machine is slow).
 */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Polls `read` until `accept` holds for its value, and returns that value; a timeout names the last value read. */
export async function waitForValue<T>(read: () => T | Promise<T>, accept: (value: T) => boolean, what: string, timeoutMs = 60_000): Promise<T> {
  let value: T | undefined;
  try {
    await waitFor(async () => accept((value = await read())), what, timeoutMs);
  } catch (err) {
    throw new Error(`${(err as Error).message} (last: ${describe(value)})`);
  }
  return value!;
}

function describe(value: unknown): string {
  const text = JSON.stringify(value, (key, v) => (key === 'headers' ? undefined : v)) ?? String(value);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}
