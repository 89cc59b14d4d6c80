/**
 * The completeness check as Prometheus gauges, per namespace, computed when
 * a scrape collects them (a reading per namespace: no timer, no cost
 * between scrapes). Bounded: the MAX_SERIES namespaces with the most RSTs.
 */
import { Gauge, type Registry } from 'prom-client';
import type { KernelCheck, NetnsCheck } from './check.js';

export const MAX_SERIES = 64;

type Labels = 'netns' | 'name';

export class KernelCheckMetrics {
  private check: KernelCheck | null = null;
  private readonly outRsts: Gauge<Labels>;
  private readonly hooked: Gauge<Labels>;
  private readonly seen: Gauge<Labels>;
  private readonly notDelivered: Gauge<Labels>;
  private readonly differs: Gauge<Labels>;

  constructor(registry: Registry) {
    const gauge = (name: string, help: string, collect?: () => void): Gauge<Labels> =>
      new Gauge({ name, help, labelNames: ['netns', 'name'] as const, registers: [registry], ...(collect ? { collect } : {}) });
    // one collect for all five: the readings are taken once per scrape
    this.outRsts = gauge('rstrace_kernel_out_rsts', 'growth of the kernel\'s TcpOutRsts in this network namespace since rstrace first read it', () => this.collect());
    this.hooked = gauge('rstrace_kernel_send_reset_hooks', 'tcp_send_reset hits in this namespace over the same window (counted in the kernel before filters)');
    this.seen = gauge('rstrace_kernel_seen_sent', 'sent records from tcp_send_reset in this namespace that reached rstrace since it started');
    this.notDelivered = gauge('rstrace_kernel_not_delivered', 'tcp_send_reset hits in this namespace that did not (yet) reach rstrace: filtered in the kernel, lost, or still in the ring');
    this.differs = gauge('rstrace_kernel_check_mismatch', '1 when TcpOutRsts and the tcp_send_reset hook differ in this namespace (rstrace missed or double-counted stack RSTs), else 0');
  }

  /** The live trace's check; scrapes before it is set show no series. */
  watch(check: KernelCheck | null): void {
    this.check = check;
  }

  private collect(): void {
    for (const g of [this.outRsts, this.hooked, this.seen, this.notDelivered, this.differs]) g.reset();
    if (!this.check) return;
    this.check.refresh();
    const checks: NetnsCheck[] = this.check.result().filter((c) => c.status !== 'unchecked');
    checks.sort((a, b) => (b.hooked ?? 0) - (a.hooked ?? 0) || a.netns - b.netns);
    for (const c of checks.slice(0, MAX_SERIES)) {
      const labels = { netns: String(c.netns), name: c.name };
      this.outRsts.set(labels, c.outRsts ?? 0);
      this.hooked.set(labels, c.hooked ?? 0);
      this.seen.set(labels, c.seenSent);
      this.notDelivered.set(labels, c.notDelivered);
      this.differs.set(labels, c.status === 'differs' ? 1 : 0);
    }
  }
}
