/**
 * Kernel record batches with the addon's layout (src/decode.ts OFFSETS), for
 * trace-file tests and benchmarks: a refused-connect storm and records with
 * every field varied.
 */
import { AF_INET, AF_INET6, FLAG, KIND, OFFSETS, RECORD_SIZE, TCP_FLAG } from '../../src/decode.js';
import { makeRng } from './sample-events.js';

export interface Batch {
  bytes: Uint8Array;
  records: number;
}

const enc = new TextEncoder();

function putComm(buf: Uint8Array, off: number, name: string): void {
  buf.fill(0, off, off + 16);
  buf.set(enc.encode(name).subarray(0, 15), off);
}

/**
 * A refused-connect storm: per connect a socket-less `sent` NO_SOCKET record
 * and a `received` SYN_SENT record, ~3.5 us apart, as bench/loadgen makes them
 * (one process, two threads), ephemeral ports walking up, cookies and inodes
 * counting sockets.
 */
export function* stormBatches(count: number, batchSize = 4096, seed = 1): Generator<Batch> {
  const rnd = makeRng(seed);
  const pid = 4242;
  let ts = 1_000_000_000_000n;
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start);
    const buf = new Uint8Array(n * RECORD_SIZE);
    const dv = new DataView(buf.buffer);
    for (let i = 0; i < n; i++) {
      const o = i * RECORD_SIZE;
      const k = start + i;
      const connect = k >> 1;
      ts += BigInt(1500 + Math.floor(rnd() * 4000));
      dv.setBigUint64(o + OFFSETS.ts_ns, ts, true);
      buf.set([127, 0, 0, 1], o + OFFSETS.laddr);
      buf.set([127, 0, 0, 1], o + OFFSETS.raddr);
      dv.setUint32(o + OFFSETS.netns, 4026531840, true);
      dv.setUint16(o + OFFSETS.family, AF_INET, true);
      const eph = 32768 + (connect % 28000);
      if ((k & 1) === 0) {
        dv.setUint8(o + OFFSETS.kind, KIND.SENT);
        dv.setUint32(o + OFFSETS.reason, 1, true); // NO_SOCKET
        dv.setUint16(o + OFFSETS.lport, 7, true);
        dv.setUint16(o + OFFSETS.rport, eph, true);
        dv.setUint8(o + OFFSETS.tcp_flags, TCP_FLAG.SYN);
        dv.setUint16(o + OFFSETS.flags, FLAG.HAS_REASON, true);
        dv.setUint8(o + OFFSETS.hook, 1);
      } else {
        dv.setUint8(o + OFFSETS.kind, KIND.RECEIVED);
        dv.setUint32(o + OFFSETS.reason, 0xffffffff, true);
        dv.setUint16(o + OFFSETS.lport, eph, true);
        dv.setUint16(o + OFFSETS.rport, 7, true);
        dv.setUint8(o + OFFSETS.state, 2); // SYN_SENT
        dv.setBigUint64(o + OFFSETS.cookie, 1_000_000n + BigInt(connect), true);
        dv.setBigUint64(o + OFFSETS.ino, 900_000n + BigInt(connect), true);
        dv.setBigUint64(o + OFFSETS.cgroup_id, 7000n + 0n, true);
        dv.setUint16(o + OFFSETS.flags, FLAG.HAS_SK | FLAG.FULLSOCK | FLAG.IN_TASK | FLAG.OWNER_KNOWN | FLAG.IN_SYSCALL, true);
        dv.setUint32(o + OFFSETS.ctx_pid, pid, true);
        dv.setUint32(o + OFFSETS.ctx_tid, pid + 1 + (connect & 1), true);
        dv.setUint32(o + OFFSETS.owner_pid, pid, true);
        dv.setUint32(o + OFFSETS.owner_tid, pid + 1 + (connect & 1), true);
        putComm(buf, o + OFFSETS.ctx_comm, 'loadgen');
        putComm(buf, o + OFFSETS.owner_comm, 'loadgen');
        dv.setUint32(o + OFFSETS.unsent, 1, true);
        dv.setUint8(o + OFFSETS.hook, 2);
        dv.setUint8(o + OFFSETS.syscall, 3);
      }
    }
    yield { bytes: buf, records: n };
  }
}

const COMMS = ['curl', 'nginx', 'a"b\\c', 'tab\there', 'é-ünï', '\u001b[31m', 'x'.repeat(15), ''];

/**
 * Records with every field varied: IPv4 and IPv6, every kind, random flags,
 * reasons, states, big cookies and inodes (some needing /proc), odd process
 * names, and batch sizes from 1 up. Times stay plausible (they only grow).
 */
export function variedBatches(count: number, seed = 1): Batch[] {
  const rnd = makeRng(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const out: Batch[] = [];
  let ts = 5_000_000_000n;
  for (let done = 0; done < count;) {
    const n = Math.min(count - done, 1 + int(rnd() < 0.5 ? 4 : 300));
    const buf = new Uint8Array(n * RECORD_SIZE);
    const dv = new DataView(buf.buffer);
    for (let i = 0; i < n; i++) {
      const o = i * RECORD_SIZE;
      ts += BigInt(rnd() < 0.05 ? int(2 ** 31) * 1000 : int(100000));
      dv.setBigUint64(o + OFFSETS.ts_ns, ts, true);
      const v6 = rnd() < 0.3;
      dv.setUint16(o + OFFSETS.family, v6 ? AF_INET6 : AF_INET, true);
      for (let b = 0; b < (v6 ? 16 : 4); b++) {
        buf[o + OFFSETS.laddr + b] = rnd() < 0.5 ? 0 : int(256);
        buf[o + OFFSETS.raddr + b] = rnd() < 0.5 ? 0 : int(256);
      }
      dv.setUint16(o + OFFSETS.lport, int(65536), true);
      dv.setUint16(o + OFFSETS.rport, int(65536), true);
      const hasSk = rnd() < 0.8;
      if (hasSk) {
        dv.setBigUint64(o + OFFSETS.cookie, rnd() < 0.1 ? 0xffff_ffff_ffff_fff0n + BigInt(int(15)) : BigInt(1 + int(1e6)), true);
        dv.setUint32(o + OFFSETS.ino, rnd() < 0.2 ? 0 : 1000 + int(60), true);
      }
      dv.setBigUint64(o + OFFSETS.cgroup_id, BigInt(int(3) * 1000), true);
      dv.setUint32(o + OFFSETS.netns, rnd() < 0.1 ? 0 : 4026531840 + int(4), true);
      dv.setUint32(o + OFFSETS.reason, rnd() < 0.3 ? 0xffffffff : int(30), true);
      dv.setUint32(o + OFFSETS.owner_pid, int(70000), true);
      dv.setUint32(o + OFFSETS.owner_tid, int(70000), true);
      dv.setUint32(o + OFFSETS.ctx_pid, rnd() < 0.2 ? 0 : int(70000), true);
      dv.setUint32(o + OFFSETS.ctx_tid, int(70000), true);
      dv.setUint32(o + OFFSETS.unread, rnd() < 0.5 ? 0 : int(2 ** 32), true);
      dv.setUint32(o + OFFSETS.unsent, rnd() < 0.5 ? 0 : int(5000), true);
      dv.setUint8(o + OFFSETS.kind, 1 + int(3));
      dv.setUint8(o + OFFSETS.state, int(13));
      dv.setUint8(o + OFFSETS.prev_state, int(13));
      dv.setUint8(o + OFFSETS.tcp_flags, int(256));
      dv.setUint8(o + OFFSETS.sk_err, rnd() < 0.7 ? 0 : [110, 113, 101, 111, 103][int(5)]);
      dv.setUint8(o + OFFSETS.probes, int(10));
      let flags = int(1 << 14) & ~FLAG.HAS_SK;
      if (hasSk) flags |= FLAG.HAS_SK;
      if (rnd() < 0.4) flags &= ~FLAG.OWNER_KNOWN;
      dv.setUint16(o + OFFSETS.flags, flags, true);
      dv.setUint8(o + OFFSETS.hook, 1 + int(3));
      dv.setUint8(o + OFFSETS.old_state, int(13));
      dv.setUint8(o + OFFSETS.syscall, int(8));
      putComm(buf, o + OFFSETS.owner_comm, COMMS[int(COMMS.length)]);
      putComm(buf, o + OFFSETS.ctx_comm, COMMS[int(COMMS.length)]);
    }
    out.push({ bytes: buf, records: n });
    done += n;
  }
  return out;
}

/** The same batches with no phantom-reset candidate (FLAG.DEAD cleared): nothing is held for a batch, so the events of a prefix are a prefix of the events. */
export function settled(batches: Batch[]): Batch[] {
  return batches.map((b) => {
    const bytes = Uint8Array.from(b.bytes);
    for (let o = 0; o < bytes.length; o += RECORD_SIZE) bytes[o + OFFSETS.flags] &= ~FLAG.DEAD;
    return { bytes, records: b.records };
  });
}
