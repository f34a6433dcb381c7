/**
 * Which event records a filter of the watch page takes: one definition for the camera board in
 * memory and for every store's older pages, so a page from either shows the same records.
 */

/** The filters of an events query; an absent one takes every record. */
export interface EventFilter {
  /** The record's session_id, or NO_CAMERA for records that name none. */
  camera?: string;
  /** data.event, or data.top_event (a PROBS record names its top event there). */
  event?: string;
  /** event_type among these (START, END, PROBS, …); absent or empty = all. */
  types?: readonly string[];
}

/** The camera of events that name none. */
export const NO_CAMERA = '-';

/** The fields of a record a filter reads; anything parsed from a line may be given. */
export interface FilterableRecord {
  event_type?: unknown;
  session_id?: unknown;
  data?: unknown;
}

export function recordMatches(record: FilterableRecord, filter: EventFilter): boolean {
  if (filter.types && filter.types.length && !filter.types.includes(record.event_type as string)) return false;
  if (filter.camera && (record.session_id ?? NO_CAMERA) !== filter.camera) return false;
  if (filter.event) {
    const data = (record.data !== null && typeof record.data === 'object' ? record.data : {}) as Record<string, unknown>;
    if (data.event !== filter.event && data.top_event !== filter.event) return false;
  }
  return true;
}
