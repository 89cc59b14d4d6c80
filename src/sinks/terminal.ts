/**
 * The live human table. Strings that come from other processes (comm) are
 * printed inert: control characters and escape sequences are shown as \xNN,
 * so a process cannot rewrite the operator's terminal through its name.
 */
import type { ResetEvent } from '../event.js';
import { timeOfDay } from '../enrich/clock.js';
import { inert } from '../text/inert.js';

const COLUMNS = [
  ['TIME', 15], ['KIND', 8], ['CODE', 4], ['PID', 7], ['COMM', 15], ['LOCAL', 22], ['REMOTE', 22],
  ['STATE', 11], ['REASON', 22],
] as const;


function endpoint(addr: string, port: number, v6: boolean): string {
  return v6 ? `[${addr}]:${port}` : `${addr}:${port}`;
}

function pad(s: string, w: number): string {
  return s.length >= w ? s : s + ' '.repeat(w - s.length);
}

export function headerLine(): string {
  return COLUMNS.map(([name, w]) => pad(name, w)).join(' ') + ' WHY';
}

export function formatRow(e: ResetEvent): string {
  const v6 = e.family === 'ipv6';
  const cells = [
    timeOfDay(e.time),
    e.kind,
    String(e.code),
    e.pid === null ? '-' : String(e.pid),
    e.comm === null ? '-' : inert(e.comm),
    endpoint(e.laddr, e.lport, v6),
    endpoint(e.raddr, e.rport, v6),
    e.state ?? '-',
    e.reason ?? '-',
  ];
  const why = e.actorComm ? `${e.explanation} [by ${inert(e.actorComm)} pid ${e.actorPid}]` : e.explanation;
  return cells.map((c, i) => pad(c, COLUMNS[i][1])).join(' ') + ' ' + why;
}

export class TerminalSink {
  private wroteHeader = false;

  constructor(private readonly out: (text: string) => void) {}

  writeBatch(events: readonly ResetEvent[]): void {
    if (events.length === 0) return;
    let text = '';
    if (!this.wroteHeader) {
      text += headerLine() + '\n';
      this.wroteHeader = true;
    }
    for (const e of events) text += formatRow(e) + '\n';
    this.out(text);
  }
}
