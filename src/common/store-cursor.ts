/**
 * A store cursor (EventPage.next): a position in the store written as a decimal number — the file's
 * byte offset, the stream's sequence. One rule for the route that takes it from a client and for
 * every store that reads it, so a cursor the route lets through is one each store can use.
 */

/** The position a cursor names, or null for text that is no cursor (not digits, or past 2^53). */
export function storePosition(cursor: string): number | null {
  if (!/^\d{1,16}$/.test(cursor)) return null;
  const position = Number(cursor);
  return Number.isSafeInteger(position) ? position : null;
}
