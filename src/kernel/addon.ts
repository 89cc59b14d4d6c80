/**
 * Typed access to the native addon (native/): the only module that touches
 * it. Everything the addon returns is raw: bytes, numbers, names.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { RstraceError } from '../errors.js';

export interface TracerOptions {
  filterTgid?: number;
  filterPort?: number;
  filterNetns?: number;
  filterCgroup?: bigint;
  /** [cgroup id, matches, ...] for the cgroups known at start: the kernel drops the records of those that do not match */
  cgroupVerdicts?: (number | boolean)[];
  assumeNoReason?: boolean;
  wakeupBytes?: number;
  pollTimeoutMs?: number;
  maxPendingBytes?: number;
  /** ring buffer size in bytes (power of two, >= a page); default: the object's (16 MiB); `trace` asks for 4 MiB */
  ringBytes?: number;
  skipPrograms?: string[];
}

export interface KernelCounters {
  emitted: number;
  lost: number;
  filtered: number;
  lostPerCpu: number[];
  delivered: number;
  batches: number;
  queueFull: number;
  stalls: number;
  pollError: number;
}

/** tcp_send_reset hits since attach, per netns inode (bpf/netns-count.bpf.h); the last figures survive close() */
export interface SendResetsByNetns {
  byNetns: [netns: number, hits: number][];
  /** hits of namespaces past the map's bound */
  overflow: number;
}

export interface NativeTracer {
  start(onBatch: (batch: Buffer, records: number) => void): void;
  counters(): KernelCounters;
  sendResetsByNetns(): SendResetsByNetns;
  attached(): string[];
  /** stop reading the ring (a sink is full); the kernel counts what it cannot write */
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

/** struct rst_record as the addon's C++ compiler sees bpf/rstrace.h (a cross-check of the generated layout). */
export interface RecordLayout {
  size: number;
  offsets: Record<string, number>;
  commLen: number;
  reasonNone: number;
  counterMax: number;
}

export interface HookProbe {
  name: string;
  section: string;
  ok: boolean;
  errno?: number;
  error?: string;
  details?: string;
}

interface Addon {
  Tracer: new (opts: TracerOptions) => NativeTracer;
  layout(): RecordLayout;
  clockOffsetNs(): bigint;
  bootTimeNs(): bigint;
  btfEnum(name: string): [string, number][] | null;
  btfHasType(name: string): boolean;
  probeHooks(): HookProbe[];
  libbpfVersion(): string;
  /** /proc/net/NAME as seen inside the namespace file `nsPath`, and that namespace's inode */
  netnsFile(nsPath: string, name: string): { ino: number; text: string };
}

/** An Error thrown by the addon carries errno and a remedy. */
export interface NativeError extends Error {
  errno?: number;
  remedy?: string;
  details?: string;
}

let cached: Addon | undefined;

export function addon(): Addon {
  if (cached) return cached;
  const here = dirname(fileURLToPath(import.meta.url));
  // src/kernel (tsx, vitest) or dist/src/kernel (compiled): find the repo root.
  const candidates = [join(here, '../../native/build/Release/rstrace.node'), join(here, '../../../native/build/Release/rstrace.node')];
  const path = candidates.find((p) => existsSync(p));
  if (!path) throw new RstraceError('the native addon is not built', "run 'make build' in the rstrace checkout", 1);
  cached = createRequire(import.meta.url)(path) as Addon;
  return cached;
}
