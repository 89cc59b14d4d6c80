/**
 * Bytes -> RawRecord. The layout is bpf/rstrace.h's `struct rst_record`, as
 * generated from the BPF object's BTF into ./kernel/layout.generated.ts: no
 * offset or constant is written here by hand.
 */
import { CONST, FLAG, HOOK, KIND, RECORD_FIELDS, RECORD_SIZE } from './kernel/layout.generated.js';

export { FLAG, HOOK, KIND, RECORD_SIZE };

type Field = Exclude<keyof typeof RECORD_FIELDS, '_pad'>;

/** Byte offset of every member but the padding. */
export const OFFSETS = Object.fromEntries(
  Object.entries(RECORD_FIELDS).filter(([name]) => name !== '_pad').map(([name, f]) => [name, f.offset]),
) as { readonly [K in Field]: (typeof RECORD_FIELDS)[K]['offset'] };

/**
 * The width in bytes that decodeInto() reads each member with; a test holds
 * it to the generated widths, so that a member that changes width in the
 * header cannot be read with the old accessor.
 */
export const DECODED_WIDTHS: { readonly [K in Field]: number } = {
  ts_ns: 8, cookie: 8, cgroup_id: 8, ino: 8, laddr: 16, raddr: 16, netns: 4, reason: 4, owner_pid: 4,
  owner_tid: 4, ctx_pid: 4, ctx_tid: 4, unread: 4, unsent: 4, lport: 2, rport: 2, family: 2, kind: 1,
  state: 1, prev_state: 1, tcp_flags: 1, sk_err: 1, probes: 1, flags: 2, hook: 1, old_state: 1, syscall: 4,
  owner_comm: CONST.COMM_LEN, ctx_comm: CONST.COMM_LEN, seq: 4, ack_seq: 4, rcv_nxt: 4, rcv_wnd: 4,
};

export const REASON_NONE = CONST.REASON_NONE;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const TCP_FLAG = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 } as const;

/** One kernel record, decoded but not yet interpreted. */
export interface RawRecord {
  /** boot-time clock, split so that no BigInt is needed on the hot path */
  bootSec: number;
  bootNsec: number;
  /** socket cookie in decimal, '' when there is no socket */
  cookie: string;
  cgroupId: number;
  ino: number;
  family: number;
  laddr: string;
  raddr: string;
  lport: number;
  rport: number;
  netns: number;
  reason: number;
  ownerPid: number;
  ownerTid: number;
  ownerComm: string;
  ctxPid: number;
  ctxTid: number;
  ctxComm: string;
  unread: number;
  unsent: number;
  kind: number;
  state: number;
  prevState: number;
  tcpFlags: number;
  skErr: number;
  probes: number;
  flags: number;
  hook: number;
  oldState: number;
  syscall: number;
  /** with FLAG.SEQ: the RST's sequence and ACK numbers, the socket's rcv_nxt and receive window */
  seq: number;
  ackSeq: number;
  rcvNxt: number;
  rcvWnd: number;
}

const TWO32 = 4294967296;

/** A little-endian u64 as a number: exact up to 2^53 (ids, inodes, cookies in practice). */
export function u64(dv: DataView, off: number): number {
  // Exact up to 2^53: cgroup ids and inode numbers stay far below.
  return dv.getUint32(off + 4, true) * TWO32 + dv.getUint32(off, true);
}

const v4Cache = new Map<number, string>();

/** the last address decoded: a storm repeats one or two, and this is cheaper than the Map */
let v4LastKey = -1;
let v4Last = '';

function ipv4(dv: DataView, off: number): string {
  const key = dv.getUint32(off, false);
  if (key === v4LastKey) return v4Last;
  let s = v4Cache.get(key);
  if (s === undefined) {
    s = `${key >>> 24}.${(key >>> 16) & 255}.${(key >>> 8) & 255}.${key & 255}`;
    if (v4Cache.size > 65536) v4Cache.clear();
    v4Cache.set(key, s);
  }
  v4LastKey = key;
  v4Last = s;
  return s;
}

/** RFC 5952 text: lower case, longest run of zero groups as "::", IPv4-mapped kept dotted. */
export function formatIpv6(bytes: Uint8Array): string {
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((bytes[i] << 8) | bytes[i + 1]);
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(':');
  const head = hex.slice(0, bestStart).join(':');
  const tail = hex.slice(bestStart + bestLen).join(':');
  return `${head}::${tail}`;
}

const decoder = new TextDecoder();

/**
 * A storm repeats the same few process names: a small direct-mapped cache of
 * 16-byte comms, compared word by word, decodes each name once and allocates
 * nothing on a hit.
 */
const COMM_SLOTS = 256;
const commWords = new Uint32Array(COMM_SLOTS * 4);
const commText: (string | undefined)[] = new Array(COMM_SLOTS);

function comm(bytes: Uint8Array, dv: DataView, off: number): string {
  const a = dv.getUint32(off, true);
  if (a === 0) return '';
  const b = dv.getUint32(off + 4, true);
  const c = dv.getUint32(off + 8, true);
  const d = dv.getUint32(off + 12, true);
  const slot = ((a ^ (b * 31) ^ (c * 17) ^ (d * 7)) >>> 0) % COMM_SLOTS;
  const w = slot * 4;
  const cached = commText[slot];
  if (cached !== undefined && commWords[w] === a && commWords[w + 1] === b && commWords[w + 2] === c && commWords[w + 3] === d) {
    return cached;
  }
  let end = off;
  const limit = off + CONST.COMM_LEN;
  while (end < limit && bytes[end] !== 0) end++;
  const s = decoder.decode(bytes.subarray(off, end));
  commWords[w] = a;
  commWords[w + 1] = b;
  commWords[w + 2] = c;
  commWords[w + 3] = d;
  commText[slot] = s;
  return s;
}

function cookie(dv: DataView, off: number): string {
  const lo = dv.getUint32(off, true);
  const hi = dv.getUint32(off + 4, true);
  if (hi === 0 && lo === 0) return '';
  // Cookies count sockets since boot: below 2^53 in practice, exact above it too.
  return hi < 0x200000 ? String(hi * TWO32 + lo) : dv.getBigUint64(off, true).toString();
}

/** A record to decode into: the hot path reuses one instead of allocating per event. */
export function emptyRecord(): RawRecord {
  return {
    bootSec: 0, bootNsec: 0, cookie: '', cgroupId: 0, ino: 0, family: 0, laddr: '', raddr: '', lport: 0,
    rport: 0, netns: 0, reason: 0, ownerPid: 0, ownerTid: 0, ownerComm: '', ctxPid: 0, ctxTid: 0,
    ctxComm: '', unread: 0, unsent: 0, kind: 0, state: 0, prevState: 0, tcpFlags: 0, skErr: 0, probes: 0,
    flags: 0, hook: 0, oldState: 0, syscall: 0, seq: 0, ackSeq: 0, rcvNxt: 0, rcvWnd: 0,
  };
}

export function decodeInto(r: RawRecord, bytes: Uint8Array, dv: DataView, base: number): RawRecord {
  const O = OFFSETS;
  const family = dv.getUint16(base + O.family, true);
  const tsLo = dv.getUint32(base + O.ts_ns, true);
  const tsHi = dv.getUint32(base + O.ts_ns + 4, true);
  // hi*2^32 + lo split into seconds and nanoseconds without losing precision
  const a = tsHi * 294967296 + tsLo;
  r.bootSec = tsHi * 4 + Math.floor(a / 1e9);
  r.bootNsec = a % 1e9;
  if (family === AF_INET6) {
    r.laddr = formatIpv6(bytes.subarray(base + O.laddr, base + O.laddr + 16));
    r.raddr = formatIpv6(bytes.subarray(base + O.raddr, base + O.raddr + 16));
  } else {
    r.laddr = ipv4(dv, base + O.laddr);
    r.raddr = ipv4(dv, base + O.raddr);
  }
  r.cookie = cookie(dv, base + O.cookie);
  r.cgroupId = u64(dv, base + O.cgroup_id);
  r.ino = u64(dv, base + O.ino);
  r.family = family;
  r.lport = dv.getUint16(base + O.lport, true);
  r.rport = dv.getUint16(base + O.rport, true);
  r.netns = dv.getUint32(base + O.netns, true);
  r.reason = dv.getUint32(base + O.reason, true);
  r.ownerPid = dv.getUint32(base + O.owner_pid, true);
  r.ownerTid = dv.getUint32(base + O.owner_tid, true);
  r.ownerComm = comm(bytes, dv, base + O.owner_comm);
  r.ctxPid = dv.getUint32(base + O.ctx_pid, true);
  r.ctxTid = dv.getUint32(base + O.ctx_tid, true);
  r.ctxComm = comm(bytes, dv, base + O.ctx_comm);
  r.unread = dv.getUint32(base + O.unread, true);
  r.unsent = dv.getUint32(base + O.unsent, true);
  r.kind = dv.getUint8(base + O.kind);
  r.state = dv.getUint8(base + O.state);
  r.prevState = dv.getUint8(base + O.prev_state);
  r.tcpFlags = dv.getUint8(base + O.tcp_flags);
  r.skErr = dv.getUint8(base + O.sk_err);
  r.probes = dv.getUint8(base + O.probes);
  r.flags = dv.getUint16(base + O.flags, true);
  r.hook = dv.getUint8(base + O.hook);
  r.oldState = dv.getUint8(base + O.old_state);
  r.syscall = dv.getUint32(base + O.syscall, true);
  r.seq = dv.getUint32(base + O.seq, true);
  r.ackSeq = dv.getUint32(base + O.ack_seq, true);
  r.rcvNxt = dv.getUint32(base + O.rcv_nxt, true);
  r.rcvWnd = dv.getUint32(base + O.rcv_wnd, true);
  return r;
}

export function decodeRecord(bytes: Uint8Array, dv: DataView, base: number): RawRecord {
  return decodeInto(emptyRecord(), bytes, dv, base);
}

/** Decodes a batch as the addon hands it over: `records` back-to-back records. */
export function decodeBatch(batch: Uint8Array, records: number): RawRecord[] {
  const n = Math.min(records, Math.floor(batch.byteLength / RECORD_SIZE));
  const dv = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
  const out = new Array<RawRecord>(n);
  for (let i = 0; i < n; i++) out[i] = decodeRecord(batch, dv, i * RECORD_SIZE);
  return out;
}
