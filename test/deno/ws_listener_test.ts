// The Deno WebSocket listener against upgrade requests Deno.upgradeWebSocket refuses (no
// Sec-WebSocket-Key): each is answered 400 and frees its place under the per-source cap, so
// a few of them cannot lock their address out.
import { listenWebSocketDeno } from '../../lib/websocket/deno.ts';

function assert(ok: boolean, what: string): void {
  if (!ok) throw new Error(`assertion failed: ${what}`);
}

/** Sends a raw HTTP request and returns the status line. */
async function rawRequest(port: number, request: string): Promise<string> {
  const conn = await Deno.connect({ hostname: '127.0.0.1', port });
  try {
    await conn.write(new TextEncoder().encode(request));
    const buf = new Uint8Array(512);
    const n = (await conn.read(buf)) ?? 0;
    return new TextDecoder().decode(buf.subarray(0, n)).split('\r\n')[0]!;
  } finally {
    conn.close();
  }
}

Deno.test('malformed upgrade requests do not hold places under the per-source cap', async () => {
  const listener = await listenWebSocketDeno({ port: 0, maxConnectionsPerSource: 2 });
  const opened: unknown[] = [];
  listener.onConnection((ws) => {
    opened.push(ws);
    ws.close(1000, 'done');
  });
  try {
    const port = Number(new URL(listener.url).port);
    const bad = 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: close\r\n\r\n';
    for (let i = 0; i < 5; i++) {
      const status = await rawRequest(port, bad);
      assert(status.includes(' 400 '), `a refused upgrade is answered 400 (got ${status})`);
    }
    const ws = new WebSocket(listener.url);
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error('a good upgrade from the same address was refused'));
    });
    await new Promise<void>((resolve) => {
      ws.onclose = () => resolve();
    });
    assert(opened.length === 1, 'the good upgrade reached the handler');
  } finally {
    await listener.close();
  }
});
