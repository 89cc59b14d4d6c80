/** `rstrace doctor`: read the host, diagnose, print aligned lines. */
import { gatherFacts } from './facts.js';
import { diagnose, type CheckStatus, type DoctorReport } from './checks.js';

export function runDoctor(): DoctorReport {
  return diagnose(gatherFacts());
}

/** Aligned lines: "ok    BTF          /sys/kernel/btf/vmlinux present", "FAIL  privileges   ... -> remedy". */
export function renderDoctor(report: DoctorReport): string {
  const width = Math.max(...report.checks.map((c) => c.name.length)) + 2;
  const label: Record<CheckStatus, string> = { ok: 'ok', warn: 'warn', fail: 'FAIL' };
  const lines = report.checks.map((c) => `${label[c.status].padEnd(6)}${c.name.padEnd(width)}${c.detail}${c.status !== 'ok' && c.remedy ? ` -> ${c.remedy}` : ''}`);
  lines.push(report.ok ? "=> 'rstrace trace' can run on this host" : "=> 'rstrace trace' cannot run on this host: fix the FAIL lines above");
  return lines.join('\n') + '\n';
}
