/**
 * Text from other processes and from the kernel (process names, peer
 * addresses in trace files, libbpf messages) printed inert: C0, DEL and C1
 * controls and the bidi controls that could reorder a line are shown escaped,
 * so nothing rstrace prints can move the cursor, hide a line or reverse it.
 * The live table, the report and doctor all print through here.
 */

// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

function escape(c: string): string {
  const n = c.charCodeAt(0);
  return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
}

/** `s` with every unsafe character shown as \xNN (or \uNNNN for bidi controls). */
export function inert(s: string): string {
  return s.replace(UNSAFE, escape);
}

/** One inert line: line breaks become spaces, the rest as `inert`. */
export function oneLine(s: string): string {
  return inert(s.replace(/[\r\n]+/g, ' ').trim());
}
