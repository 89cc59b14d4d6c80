/**
 * Addresses as the live views print them in a column of fixed width: an
 * IPv4-mapped IPv6 address (`::ffff:127.0.0.1`, what a dual-stack socket
 * reports for an IPv4 peer) as the IPv4 address it is, and an address too
 * long for the column elided in its middle, where two addresses of one host
 * differ least; the port is always kept whole.
 */

const MAPPED_V4 = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i;

/** The address a person reads: `::ffff:a.b.c.d` as `a.b.c.d`, anything else unchanged. */
export function displayAddress(addr: string): string {
  if (addr.charCodeAt(0) !== 58 /* ':' */) return addr; // the common case, without a regex
  const m = MAPPED_V4.exec(addr);
  return m ? m[1] : addr;
}

/** `addr` cut to `width` characters by an ellipsis in its middle. */
export function elideMiddle(addr: string, width: number): string {
  if (addr.length <= width) return addr;
  if (width <= 1) return '…'.slice(0, width);
  const keep = width - 1;
  const head = Math.ceil(keep / 2);
  return addr.slice(0, head) + '…' + addr.slice(addr.length - (keep - head));
}

/** `addr:port` (`[addr]:port` for IPv6) in at most `width` characters (no limit: Infinity). */
export function shortEndpoint(addr: string, port: number, width = Infinity): string {
  const shown = displayAddress(addr);
  const v6 = shown.includes(':');
  const suffix = (v6 ? ']:' : ':') + port;
  const room = width - suffix.length - (v6 ? 1 : 0);
  const body = room >= shown.length ? shown : elideMiddle(shown, Math.max(room, 1));
  return (v6 ? '[' : '') + body + suffix;
}
