/** What BPF state a process holds and what the kernel still has, for leak checks. */
import { readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

export interface HeldLink {
  linkId: number;
  progId: number;
}

/** BPF links a live process holds, from /proc/PID/fdinfo (bpftool here cannot show holders). */
export function linksHeldBy(pid: number): HeldLink[] {
  const out: HeldLink[] = [];
  let fds: string[] = [];
  try {
    fds = readdirSync(`/proc/${pid}/fdinfo`);
  } catch {
    return out;
  }
  for (const fd of fds) {
    let info = '';
    try {
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue;
    }
    const link = /^link_id:\s+(\d+)$/m.exec(info);
    const prog = /^prog_id:\s+(\d+)$/m.exec(info);
    if (link && prog) out.push({ linkId: Number(link[1]), progId: Number(prog[1]) });
  }
  return out;
}

/** Link ids and program ids the kernel still has, from bpftool. */
export function kernelBpfIds(): { links: Set<number>; progs: Set<number> } {
  const links = JSON.parse(spawnSync('bpftool', ['link', 'show', '-j'], { encoding: 'utf8' }).stdout || '[]') as { id: number }[];
  const progs = JSON.parse(spawnSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8' }).stdout || '[]') as { id: number }[];
  return { links: new Set(links.map((l) => l.id)), progs: new Set(progs.map((p) => p.id)) };
}

/** Waits (bounded) until none of these links and programs exist in the kernel any more. */
export async function waitGone(held: HeldLink[], timeoutMs = 5000): Promise<HeldLink[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const k = kernelBpfIds();
    const left = held.filter((h) => k.links.has(h.linkId) || k.progs.has(h.progId));
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 100));
  }
}
