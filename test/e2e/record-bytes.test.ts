/**
 * Records are not zeroed in the ring before they are filled (bpf/record.bpf.h):
 * every byte must be written on every path. A ring of 64 KiB is wrapped with
 * IPv6 records (::1, whose last address byte is 1), then overwritten by IPv4
 * ones: a byte that a path forgot to write would still hold the old record's.
 */
import { createServer, connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { addon } from '../../src/kernel/addon.js';
import { AF_INET, AF_INET6, FLAG, KIND, OFFSETS, RECORD_SIZE } from '../../src/decode.js';
import { RECORD_FIELDS } from '../../src/kernel/layout.generated.js';

/** Small enough to wrap within a second; large enough that another test's storm on the host
 * (whose records this tracer reserves and discards) does not fill it between two polls. */
const RING = 256 * 1024;
const CONNECTS = 1000;
/** Connects between two waits for delivery: 400 records (64 KiB), well under the ring. */
const CHUNK = 200;

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

function refuse(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    s.once('connect', () => { s.destroy(); reject(new Error(`something listens on ${host}:${port}`)); });
    s.once('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNREFUSED' ? resolve() : reject(e)));
  });
}

async function until(pred: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
}

const zero = (b: Buffer, from: number, to: number): boolean => b.subarray(from, to).every((x) => x === 0);
/** A NUL-terminated name: nothing but zeros after its end. */
const padded = (b: Buffer, off: number): boolean => {
  const s = b.subarray(off, off + 16);
  const end = s.indexOf(0);
  return end >= 0 && zero(s, end, 16);
};

describe('record bytes', () => {
  it('after the ring wraps, IPv4 records carry no byte of the IPv6 records they overwrite', async () => {
    const port = await closedPort();
    const records: Buffer[] = [];
    let lost = 0;
    const t = new (addon().Tracer)({ filterPort: port, ringBytes: RING, wakeupBytes: 1, pollTimeoutMs: 2 });
    t.start((batch, n) => {
      for (let i = 0; i < n; i++) records.push(Buffer.from(batch.subarray(i * RECORD_SIZE, (i + 1) * RECORD_SIZE)));
    });
    try {
      for (const [phase, host] of [[0, '::1'], [1, '127.0.0.1']] as const) {
        for (let done = 0; done < CONNECTS; done += CHUNK) {
          for (let i = 0; i < CHUNK; i++) await refuse(host, port);
          const want = 2 * (phase * CONNECTS + done + CHUNK);
          await until(() => records.length + t.counters().lost >= want, 10_000);
        }
      }
      lost = t.counters().lost;
    } finally {
      await t.close();
    }
    const dv = (b: Buffer): DataView => new DataView(b.buffer, b.byteOffset, RECORD_SIZE);
    const fam = (b: Buffer): number => dv(b).getUint16(OFFSETS.family, true);
    const v6 = records.filter((b) => fam(b) === AF_INET6);
    const v4 = records.filter((b) => fam(b) === AF_INET);
    // the IPv6 phase alone wrote more than the ring holds, so the IPv4 records reuse its bytes
    expect(v6.length * (RECORD_SIZE + 8)).toBeGreaterThan(RING);
    // every record is here, or counted lost (a full ring, on a host busy with other tests)
    expect(v6.length + v4.length + lost).toBeGreaterThanOrEqual(4 * CONNECTS);
    expect(v4.length).toBeGreaterThan(CONNECTS);
    expect(v4.some((b) => b[OFFSETS.kind] === KIND.SENT)).toBe(true);
    expect(v4.some((b) => b[OFFSETS.kind] === KIND.RECEIVED)).toBe(true);
    for (const b of v4) {
      const d = dv(b);
      const flags = d.getUint16(OFFSETS.flags, true);
      const bad: string[] = [];
      if (!zero(b, OFFSETS.laddr + 4, OFFSETS.laddr + 16)) bad.push('laddr');
      if (!zero(b, OFFSETS.raddr + 4, OFFSETS.raddr + 16)) bad.push('raddr');
      if (!zero(b, RECORD_FIELDS._pad.offset, RECORD_FIELDS._pad.offset + RECORD_FIELDS._pad.size)) bad.push('_pad');
      if (!padded(b, OFFSETS.ctx_comm)) bad.push('ctx_comm');
      if (!(flags & FLAG.OWNER_KNOWN)) {
        if (!zero(b, OFFSETS.owner_comm, OFFSETS.owner_comm + 16)) bad.push('owner_comm');
        if (d.getUint32(OFFSETS.owner_pid, true) || d.getUint32(OFFSETS.owner_tid, true)) bad.push('owner_pid/tid');
      } else if (!padded(b, OFFSETS.owner_comm)) bad.push('owner_comm');
      if (!(flags & FLAG.HAS_SK) && (d.getBigUint64(OFFSETS.cookie, true) || d.getBigUint64(OFFSETS.ino, true) || b[OFFSETS.state])) bad.push('socket part');
      if (!(flags & FLAG.FULLSOCK) && (d.getUint32(OFFSETS.unread, true) || d.getUint32(OFFSETS.unsent, true) || b[OFFSETS.probes])) bad.push('queues');
      if (!(flags & FLAG.IN_SYSCALL) && d.getUint32(OFFSETS.syscall, true)) bad.push('syscall');
      if (!(flags & FLAG.PREV_STATE) && b[OFFSETS.prev_state]) bad.push('prev_state');
      expect(bad).toEqual([]);
    }
  });
});
