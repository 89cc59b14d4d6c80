/** RawRecord builder for pure tests of the classifier, enricher and pipeline. */
import { AF_INET, FLAG, KIND, type RawRecord } from '../../src/decode.js';

export function raw(over: Partial<RawRecord> = {}): RawRecord {
  return {
    bootSec: 100, bootNsec: 5, cookie: '77', cgroupId: 0, ino: 0, family: AF_INET,
    laddr: '127.0.0.1', raddr: '127.0.0.1', lport: 8080, rport: 40000, netns: 4026531840,
    reason: 0xffffffff, ownerPid: 0, ownerTid: 0, ownerComm: '', ctxPid: 0, ctxTid: 0, ctxComm: '',
    unread: 0, unsent: 0, kind: KIND.SENT, state: 0, prevState: 0, tcpFlags: 0, skErr: 0, probes: 0,
    flags: 0, hook: 1, oldState: 0, syscall: 0, seq: 0, ackSeq: 0, rcvNxt: 0, rcvWnd: 0,
    ...over,
  };
}

export const SOCK = FLAG.HAS_SK | FLAG.FULLSOCK;
