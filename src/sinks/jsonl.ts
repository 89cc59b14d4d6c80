/**
 * JSON lines: one object per event, fields in the contract's order. `export`
 * uses the same function, so a file exported later is identical, line for
 * line, to what `trace --json` printed live.
 */
import { EVENT_FIELDS, type ResetEvent } from '../event.js';

export function toJsonLine(event: ResetEvent): string {
  // Build in contract order even if the object was assembled in another order.
  const ordered: Record<string, unknown> = {};
  for (const f of EVENT_FIELDS) ordered[f] = event[f] === undefined ? null : event[f];
  return JSON.stringify(ordered);
}
