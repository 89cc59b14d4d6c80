/**
 * The completeness check in the trailer (docs/trace-format.md): one array
 * per namespace, [netns, name, outRsts, hooked, slack, seenSent,
 * notDelivered, status, note], positional so that it stays small.
 */
import type { CheckStatus, NetnsCheck } from '../completeness/check.js';

const STATUSES: readonly CheckStatus[] = ['equal', 'differs', 'unchecked'];
/** More than a tracer ever writes (256 namespaces and the unattributed hits): a longer list is garbage. */
const MAX_ENTRIES = 1 << 12;

export type EncodedCheck = [number, string, number | null, number | null, number, number, number, CheckStatus, string | null];

export function encodeChecks(checks: readonly NetnsCheck[]): EncodedCheck[] {
  return checks.map((c) => [c.netns, c.name, c.outRsts, c.hooked, c.slack, c.seenSent, c.notDelivered, c.status, c.note]);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** The trailer's list, or a reason why it is malformed. */
export function decodeChecks(v: unknown): NetnsCheck[] | string {
  if (!Array.isArray(v) || v.length > MAX_ENTRIES) return 'kernel check is not a list';
  const out: NetnsCheck[] = [];
  for (const e of v) {
    if (!Array.isArray(e) || e.length !== 9) return 'kernel check entry is not a 9-element array';
    const [netns, name, outRsts, hooked, slack, seenSent, notDelivered, status, note] = e as unknown[];
    if (!isCount(netns) || typeof name !== 'string' || !(outRsts === null || isCount(outRsts)) || !(hooked === null || isCount(hooked))
      || !isCount(slack) || !isCount(seenSent) || !isCount(notDelivered) || !STATUSES.includes(status as CheckStatus)
      || !(note === null || typeof note === 'string')) {
      return 'bad kernel check entry';
    }
    out.push({ netns, name, outRsts, hooked, slack, seenSent, notDelivered, status: status as CheckStatus, note });
  }
  return out;
}
