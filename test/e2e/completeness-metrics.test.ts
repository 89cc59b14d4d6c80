/**
 * `rstrace metrics` shows the completeness check per namespace: refused
 * connects inside a namespace this test creates, then a scrape of the real
 * endpoint (127.0.0.1, a port the kernel picks).
 */
import { spawn } from 'node:child_process';
import { afterEach, expect, it } from 'vitest';
import { cleanup, createNetns, exec, netnsInode } from '../helpers/netns.js';
import { RSTRACE } from '../helpers/tracer.js';
import { sleep } from '../helpers/scenarios.js';

const CONNECTS = 3;
const children: ReturnType<typeof spawn>[] = [];

afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null) {
      c.kill('SIGINT');
      await new Promise((r) => c.once('exit', r));
    }
  }
  await cleanup();
});

it('rstrace metrics exposes TcpOutRsts, the hook and what rstrace saw, per namespace, equal after refused connects', async () => {
  const ns = await createNetns('rsth2-met');
  const child = spawn(RSTRACE, ['metrics', '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => { err += c; });
  for (let i = 0; i < 100 && !/attached/.test(err); i++) await sleep(100);
  const url = /serving metrics on (\S+)/.exec(err)?.[1];
  expect(url, err).toBeDefined();

  const script = Array.from({ length: CONNECTS }, () => '(exec 3<>/dev/tcp/127.0.0.1/9) 2>/dev/null').join('; ') + '; true';
  await exec(ns, ['bash', '-c', script]);
  const labels = `{netns="${netnsInode(ns)}",name="${ns}"}`;
  let text = '';
  // bounded: the records reach rstrace within a poll interval or two
  for (let i = 0; i < 50 && !text.includes(`rstrace_kernel_seen_sent${labels} ${CONNECTS}`); i++) {
    await sleep(100);
    text = await (await fetch(url!)).text();
  }
  for (const [name, value] of [['out_rsts', CONNECTS], ['send_reset_hooks', CONNECTS], ['seen_sent', CONNECTS], ['not_delivered', 0], ['check_mismatch', 0]]) {
    expect(text).toContain(`rstrace_kernel_${name}${labels} ${value}\n`);
  }
});
