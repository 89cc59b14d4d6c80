/** Ports and connects on 127.0.0.1 for tests that run the real CLI against loopback. */
import { connect, createServer } from 'node:net';

/** A port free on 127.0.0.1 right now: bind port 0, read it, close. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** A connect to a port nothing listens on: the kernel answers the SYN with a RST. Resolves with the error code. */
export function refusedConnect(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('connect neither failed nor succeeded in 5 s')); }, 5000);
    sock.once('connect', () => { clearTimeout(timer); sock.destroy(); reject(new Error(`something listens on 127.0.0.1:${port}`)); });
    sock.once('error', (err: NodeJS.ErrnoException) => { clearTimeout(timer); resolve(err.code ?? err.message); });
  });
}
