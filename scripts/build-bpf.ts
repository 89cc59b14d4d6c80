/**
 * Builds the BPF object: vmlinux.h from the running kernel's BTF, each
 * bpf/*.bpf.c compiled by clang for the bpf target, the objects linked by the
 * BPF static linker (`bpftool gen object`), and the skeleton the addon embeds.
 * Every tool is spawned through child_process; its output is shown on failure.
 * Last, the TypeScript record layout is generated from the object's BTF
 * (src/kernel/layout.generated.ts, committed; rewritten only when it changes,
 * so that tsc does not rerun for nothing).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync, statSync } from 'node:fs';
import { arch } from 'node:os';
import { join } from 'node:path';
import { generateLayout } from './btf-layout.js';

const ROOT = new URL('..', import.meta.url).pathname;
const OUT = join(ROOT, 'build');
const BTF = '/sys/kernel/btf/vmlinux';

/** Debian package that provides each tool, for the one-line error. */
const PACKAGE: Record<string, string> = { clang: 'clang', bpftool: 'bpftool', 'llvm-strip': 'llvm' };

function fail(message: string): never {
  process.stderr.write(`build-bpf: ${message}\n`);
  process.exit(1);
}

function run(tool: string, args: string[], opts: { stdoutTo?: string } = {}): void {
  const r = spawnSync(tool, args, { cwd: ROOT, encoding: 'buffer', maxBuffer: 256 << 20 });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    fail(`${tool} not found: install it with 'apt-get install ${PACKAGE[tool] ?? tool}' (or run 'make build')`);
  }
  if (r.status !== 0) {
    process.stderr.write(r.stdout?.toString() ?? '');
    process.stderr.write(r.stderr?.toString() ?? '');
    fail(`${tool} ${args.join(' ')} failed with exit code ${r.status ?? r.signal}`);
  }
  if (opts.stdoutTo) writeFileSync(opts.stdoutTo, r.stdout);
}

function targetArch(): string {
  const a = arch();
  if (a === 'x64') return 'x86';
  if (a === 'arm64') return 'arm64';
  return a;
}

mkdirSync(OUT, { recursive: true });
if (!existsSync(BTF)) fail(`${BTF} not found: this kernel was built without CONFIG_DEBUG_INFO_BTF; rstrace needs BTF`);

// vmlinux.h changes only with the kernel: regenerate when BTF is newer.
const vmlinux = join(OUT, 'vmlinux.h');
if (!existsSync(vmlinux) || statSync(vmlinux).mtimeMs < statSync(BTF).mtimeMs) {
  run('bpftool', ['btf', 'dump', 'file', BTF, 'format', 'c'], { stdoutTo: `${vmlinux}.tmp` });
  renameSync(`${vmlinux}.tmp`, vmlinux);
}

const sources = readdirSync(join(ROOT, 'bpf')).filter((f) => f.endsWith('.bpf.c'));
if (sources.length === 0) fail('no bpf/*.bpf.c sources found');
const objects: string[] = [];
for (const src of sources) {
  const obj = join(OUT, src.replace(/\.c$/, '.unlinked.o'));
  run('clang', [
    '-g', '-O2', '-target', 'bpf', `-D__TARGET_ARCH_${targetArch()}`, '-Wall', '-Werror',
    '-I', OUT, '-I', join(ROOT, 'bpf'), '-c', join('bpf', src), '-o', obj,
  ]);
  objects.push(obj);
}
const linked = join(OUT, 'rstrace.bpf.o');
run('bpftool', ['gen', 'object', `${linked}.tmp`, ...objects]);
renameSync(`${linked}.tmp`, linked);
run('bpftool', ['gen', 'skeleton', linked, 'name', 'rstrace_bpf'], { stdoutTo: join(OUT, 'rstrace.skel.h') });
const layoutFile = join(ROOT, 'src/kernel/layout.generated.ts');
let layout: string;
try {
  layout = generateLayout(linked);
} catch (e) {
  fail(`generating the record layout from ${linked}: ${(e as Error).message}`);
}
if (!existsSync(layoutFile) || readFileSync(layoutFile, 'utf8') !== layout) {
  writeFileSync(`${layoutFile}.tmp`, layout);
  renameSync(`${layoutFile}.tmp`, layoutFile);
  process.stdout.write(`build-bpf: wrote ${layoutFile}\n`);
}
process.stdout.write(`build-bpf: ${linked} (${sources.length} source${sources.length > 1 ? 's' : ''})\n`);
