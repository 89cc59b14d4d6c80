/**
 * The completeness check for people: the lines of the exit summary and of
 * `report`, the warning for a namespace whose numbers differ, and the sum
 * of the checks of several trace files. Pure.
 */
import type { NetnsCheck } from './check.js';
import { inert } from '../text/inert.js';

/** Namespaces listed one per line; the rest are summed up in the headline. */
const MAX_LINES = 10;

function num(n: number): string {
  return n.toLocaleString('en-US');
}

/** The name holds a process name (`pid 12 (comm)`) or a /run/netns name: printed inert. */
function label(c: NetnsCheck): string {
  return `netns ${c.netns} (${inert(c.name)})`;
}

function active(c: NetnsCheck): boolean {
  return (c.outRsts ?? 0) !== 0 || (c.hooked ?? 0) !== 0 || c.seenSent !== 0 || c.notDelivered !== 0;
}

/** The one-line warning for a namespace whose counter and hook differ: both numbers, and what reached rstrace. */
export function mismatchWarning(c: NetnsCheck): string {
  return `warning: kernel check: ${label(c)}: the kernel counted ${num(c.outRsts ?? 0)} RSTs sent (TcpOutRsts) `
    + `but tcp_send_reset fired ${num(c.hooked ?? 0)} times${c.slack ? ` (±${num(c.slack)})` : ''}; `
    + `${num(c.seenSent)} reached rstrace, ${num(c.notDelivered)} filtered or lost; see "Completeness" in the README`;
}

/** One namespace: `netns 4026532178 (web): TcpOutRsts +12 = hook 12; 12 seen, 0 filtered or lost`. */
export function checkLine(c: NetnsCheck): string {
  const seen = `${num(c.seenSent)} seen, ${num(c.notDelivered)} filtered or lost`;
  if (c.status === 'unchecked') return `${label(c)}: not checked, ${c.note ?? 'no readings'}; ${seen}`;
  const rel = c.status === 'equal' ? '=' : '≠';
  return `${label(c)}: TcpOutRsts +${num(c.outRsts ?? 0)} ${rel} hook ${num(c.hooked ?? 0)}${c.slack ? ` (±${num(c.slack)})` : ''}; ${seen}`;
}

/** The headline: how many namespaces agree, and what the hook's hits became. */
export function checkHeadline(checks: readonly NetnsCheck[]): string {
  const checked = checks.filter((c) => c.status !== 'unchecked');
  const equal = checked.filter((c) => c.status === 'equal').length;
  const hooked = checks.reduce((s, c) => s + c.seenSent + c.notDelivered, 0);
  const seen = checks.reduce((s, c) => s + c.seenSent, 0);
  const unchecked = checks.length - checked.length;
  return `kernel check: TcpOutRsts ${equal === checked.length ? 'equals' : 'differs from'} the tcp_send_reset hook in `
    + `${num(equal)} of ${num(checked.length)} namespaces${unchecked ? ` (${num(unchecked)} not checked)` : ''}; `
    + `${num(hooked)} stack RSTs hooked, ${num(seen)} reached rstrace, ${num(hooked - seen)} filtered or lost`;
}

/** Headline, then the namespaces that had resets (at most MAX_LINES); warnings apart, one per mismatch. */
export function checkSummary(checks: readonly NetnsCheck[]): { lines: string[]; warnings: string[] } {
  const shown = checks.filter(active);
  const lines = [checkHeadline(checks), ...shown.slice(0, MAX_LINES).map((c) => '  ' + checkLine(c))];
  if (shown.length > MAX_LINES) lines.push(`  ... and ${num(shown.length - MAX_LINES)} more namespaces with resets (rstrace report --json lists them all)`);
  const warnings = checks.filter((c) => c.status === 'differs').map(mismatchWarning);
  return { lines, warnings };
}

/** The checks of several traces, namespace by namespace (same inode, same namespace: one host). */
export function sumChecks(lists: readonly (readonly NetnsCheck[])[]): NetnsCheck[] {
  const by = new Map<number, NetnsCheck>();
  for (const list of lists) {
    for (const c of list) {
      const s = by.get(c.netns);
      if (!s) { by.set(c.netns, { ...c }); continue; }
      const checked = c.status !== 'unchecked';
      if (checked) {
        s.outRsts = (s.outRsts ?? 0) + (c.outRsts ?? 0);
        s.hooked = (s.hooked ?? 0) + (c.hooked ?? 0);
        s.slack += c.slack;
      }
      s.seenSent += c.seenSent;
      s.notDelivered += c.notDelivered;
      if (c.status === 'differs' || s.status === 'differs') s.status = 'differs';
      else if (checked) { s.status = 'equal'; s.note = null; }
    }
  }
  return [...by.values()].sort((a, b) => a.netns - b.netns);
}

/** For `report`: the headline, each namespace whose numbers differ, and a note when the files predate the check. */
export function reportCheckLines(kernel: readonly NetnsCheck[] | null): string[] {
  if (kernel === null) return ['kernel check: not in these files (written before rstrace checked itself against TcpOutRsts, or the trace did not end normally)'];
  return [checkHeadline(kernel), ...kernel.filter((c) => c.status === 'differs').map(mismatchWarning)];
}
