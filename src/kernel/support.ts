/**
 * What this kernel offers, from its BTF: hooks that are optional for rstrace
 * are skipped where the kernel lacks them, so that older kernels degrade
 * (fewer owners known) instead of failing to load.
 */
import { addon } from './addon.js';

/** Optional programs and the tracepoint type each needs; `doctor` reports them as optional too. */
export const OPTIONAL_PROGRAMS: Readonly<Record<string, string>> = {
  handle_send_length: 'btf_trace_sock_send_length',
  handle_recv_length: 'btf_trace_sock_recv_length',
  handle_net_dev_queue: 'btf_trace_net_dev_queue',
  handle_kfree_skb: 'btf_trace_kfree_skb',
};

/**
 * The program behind `trace --firewall`: net_dev_queue runs for every packet
 * the host sends (about 65 ns each with bpf_stats on, 10 per short connection:
 * over 1% of ordinary traffic here), so firewall-made RSTs are opt-in.
 */
export const FIREWALL_PROGRAM = 'handle_net_dev_queue';

export function optionalProgramsMissing(): string[] {
  const a = addon();
  return Object.entries(OPTIONAL_PROGRAMS).filter(([, type]) => !a.btfHasType(type)).map(([prog]) => prog);
}

