import { describe, expect, it } from 'vitest';
import { FLAG, KIND } from '../../src/decode.js';
import { WallClock } from '../../src/enrich/clock.js';
import { ProcIndex } from '../../src/enrich/proc.js';
import { attribute } from '../../src/enrich/attribution.js';
import { classifyInto, emptyVerdict } from '../../src/classify.js';
import type { RawRecord } from '../../src/decode.js';
import { Pipeline } from '../../src/pipeline.js';
import { SYSCALL, TCP_STATE } from '../../src/kernel/names.js';
import { raw, SOCK } from '../helpers/raw.js';

const reasons = new Map([[1, 'NO_SOCKET'], [8, 'TCP_ABORT_ON_DATA'], [11, 'TCP_ABORT_ON_CLOSE'], [14, 'TCP_STATE']]);
const noProc = new ProcIndex('/nonexistent');
const pipeline = () => new Pipeline({ clock: new WallClock(1_790_000_000_000_000_000n), proc: noProc, reasons });

const phantom = raw({ kind: KIND.RECEIVED, state: TCP_STATE.FIN_WAIT2, cookie: '9', flags: SOCK | FLAG.DEAD | FLAG.OWNER_KNOWN, ownerPid: 5, ownerComm: 'srv' });
const abortOnData = raw({ kind: KIND.SENT, state: TCP_STATE.CLOSE, cookie: '9', reason: 8, flags: SOCK | FLAG.DEAD | FLAG.HAS_REASON | FLAG.OWNER_KNOWN, ownerPid: 5 });
const other = raw({ kind: KIND.SENT, reason: 1, tcpFlags: 0x02, flags: FLAG.HAS_REASON });

describe('pipeline', () => {
  it('drops the phantom received reset of TCP_ABORT_ON_DATA in the same batch', () => {
    const out = pipeline().process([phantom, abortOnData, other]);
    expect(out.map((e) => [e.kind, e.code])).toEqual([['sent', 1], ['sent', 11]]);
  });

  it('holds a possible phantom for one batch and drops it when its sent half comes next', () => {
    const p = pipeline();
    expect(p.process([other, phantom])).toHaveLength(1);
    expect(p.process([abortOnData]).map((e) => e.reason)).toEqual(['TCP_ABORT_ON_DATA']);
    expect(p.flush()).toEqual([]);
  });

  it('passes a real RST on an orphaned FIN_WAIT socket on after one batch, or at the end', () => {
    const p = pipeline();
    expect(p.process([phantom])).toEqual([]);
    expect(p.process([other]).map((e) => e.kind)).toEqual(['received', 'sent']);
    const q = pipeline();
    q.process([phantom]);
    expect(q.flush().map((e) => e.kind)).toEqual(['received']);
  });

  it('reports the state before the reset, not the CLOSE set just before it, and data bytes without SYN/FIN', () => {
    const [e] = pipeline().process([raw({ kind: KIND.SENT, reason: 11, state: TCP_STATE.CLOSE, prevState: TCP_STATE.CLOSE_WAIT, unread: 101, unsent: 0, flags: SOCK | FLAG.HAS_REASON | FLAG.PREV_STATE | FLAG.IN_TASK, ctxPid: 3 })]);
    expect(e).toMatchObject({ code: 16, state: 'CLOSE_WAIT', unread: 100 });
    const [syn] = pipeline().process([raw({ kind: KIND.RECEIVED, state: TCP_STATE.SYN_SENT, unsent: 1, flags: SOCK })]);
    expect(syn.unsent).toBe(0);
  });

  it('counts what the user-space filter rejects', () => {
    const p = new Pipeline({ clock: new WallClock(0n), proc: noProc, reasons, keep: (e) => e.code !== 11 });
    expect(p.process([other, abortOnData])).toHaveLength(1);
    expect(p.filtered).toBe(1);
  });
});

/** Attribution as the pipeline does it: from the classifier's answer about who acted. */
const attributed = (r: RawRecord, reason: string | null) => attribute(r, classifyInto(emptyVerdict(), r, reason).actor, noProc);

describe('attribution', () => {
  it('a socket-less reset belongs to nobody', () => {
    expect(attributed(other, 'NO_SOCKET')).toMatchObject({ attribution: 'none', pid: null, comm: null });
  });
  it('the task holding the socket lock is the owner (context), with its thread', () => {
    expect(attributed(raw({ flags: SOCK | FLAG.IN_TASK, ctxPid: 10, ctxTid: 11, ctxComm: 'app', state: TCP_STATE.CLOSE }), 'TCP_ABORT_ON_CLOSE'))
      .toMatchObject({ attribution: 'context', pid: 10, tid: 11, comm: 'app' });
  });
  it('in softirq the remembered owner wins over the interrupted task', () => {
    expect(attributed(raw({ kind: KIND.RECEIVED, flags: SOCK | FLAG.OWNER_KNOWN, ownerPid: 20, ownerTid: 21, ownerComm: 'client', ctxPid: 10, ctxComm: 'server' }), null))
      .toMatchObject({ attribution: 'owner', pid: 20, tid: 21, comm: 'client' });
  });
  it('ss -K: the owner is the owner, the killer is the actor', () => {
    const r = raw({ state: TCP_STATE.ESTABLISHED, flags: SOCK | FLAG.IN_TASK | FLAG.IN_SYSCALL | FLAG.OWNER_KNOWN, syscall: SYSCALL.sendmsg, ownerPid: 20, ownerComm: 'app', ctxPid: 30, ctxComm: 'ss' });
    expect(attributed(r, 'TCP_STATE')).toMatchObject({ attribution: 'owner', pid: 20, comm: 'app', actorPid: 30, actorComm: 'ss' });
  });
  it('a never-accepted connection reset by closing its listener belongs to the closer', () => {
    const r = raw({ state: TCP_STATE.CLOSE, prevState: TCP_STATE.ESTABLISHED, flags: SOCK | FLAG.PREV_STATE | FLAG.OWNER_KNOWN | FLAG.OWNER_LISTENER, ctxPid: 40, ctxTid: 40, ctxComm: 'srv' });
    expect(attributed(r, 'TCP_STATE')).toMatchObject({ attribution: 'context', pid: 40, comm: 'srv' });
  });
});
