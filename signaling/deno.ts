/**
 * The signaling server on Deno (Deno.serve + WebSocket upgrade), from the same core as on Node.
 * Deno.serve hands over a request only once its headers are complete and has no setting for
 * how long it waits for them: unlike the Node adapter this one cannot time out slow
 * requests (nor cap TCP connections before they upgrade) — a proxy in front can.
 */
import { TransportError } from '../lib/transport/errors.ts';
import type { RedisBackplaneOptions } from './redis-backplane.ts';

export type { RedisBackplaneOptions } from './redis-backplane.ts';

import { SignalingServer, type SignalingServerOptions } from './server.ts';

interface DenoApi {
  serve(
    opts: { hostname: string; port: number; onListen?: (addr: { hostname: string; port: number }) => void },
    handler: (req: Request, info: { remoteAddr: { hostname: string } }) => Response,
  ): { shutdown(): Promise<void> };
  upgradeWebSocket(req: Request, opts?: { idleTimeout?: number }): { socket: WebSocket; response: Response };
}

export interface DenoSignalingOptions extends SignalingServerOptions {
  hostname?: string;
  port?: number;
  /**
   * Behind a reverse proxy: the request header carrying the client's address (its last
   * entry counts), for the per-source cap. Opt-in, and only behind a proxy that sets it.
   */
  sourceHeader?: string;
  /**
   * Share rooms with the other instances on this Redis (`redis://HOST:PORT[/DB]`, or the
   * backplane's options), as on Node. Needs `--allow-net` to reach it (and `--allow-env`,
   * `--allow-read` for the npm client). Default none: rooms live in this process.
   */
  redis?: string | RedisBackplaneOptions;
  /** Where the server logs state changes (Redis connection lost and restored). Default nowhere. */
  log?: (line: string) => void;
}

export async function serveSignalingDeno(
  opts: DenoSignalingOptions = {},
): Promise<{ url: string; server: SignalingServer; close(): Promise<void> }> {
  const deno = (globalThis as unknown as { Deno?: DenoApi }).Deno;
  if (!deno) throw new TransportError('unsupported-runtime', 'serveSignalingDeno runs on Deno only');
  // Loaded only when asked for: a Deno server without Redis never loads the client.
  const backplane =
    opts.redis === undefined
      ? undefined
      : new (await import('./redis-backplane.ts')).RedisBackplane({
          ...(typeof opts.redis === 'string' ? { url: opts.redis } : opts.redis),
          ...(opts.log ? { log: opts.log } : {}),
        });
  const server = new SignalingServer({ ...opts, ...(backplane ? { backplane } : {}) });
  const sweepers = new Set<() => void>();
  let listening!: (addr: { hostname: string; port: number }) => void;
  const ready = new Promise<{ hostname: string; port: number }>((ok) => {
    listening = ok;
  });
  const sourceOf = (req: Request, peer: string): string => {
    const header = opts.sourceHeader === undefined ? null : req.headers.get(opts.sourceHeader);
    return header?.split(',').pop()?.trim() || peer;
  };
  const http = deno.serve(
    { hostname: opts.hostname ?? '127.0.0.1', port: opts.port ?? 8787, onListen: (a) => listening(a) },
    (req, info) => {
      if (new URL(req.url).pathname === '/health') {
        const stats = server.stats();
        const degraded = stats.backplane ? { degraded: stats.backplane.state !== 'up' } : {};
        return new Response(JSON.stringify({ ok: true, ...degraded, ...stats }), {
          headers: { 'content-type': 'application/json' },
        });
      }
      if (req.headers.get('upgrade')?.toLowerCase() !== 'websocket')
        return new Response('not found\n', { status: 404 });
      // Before the upgrade: the request (and its remoteAddr) is gone after it.
      const source = sourceOf(req, info.remoteAddr.hostname);
      // Deno answers pings and closes sockets idle past idleTimeout (seconds) by itself.
      const { socket, response } = deno.upgradeWebSocket(req, {
        idleTimeout: Math.ceil(server.limits.idleTimeoutMs / 1000),
      });
      socket.onopen = () => {
        const conn = server.accept(
          {
            send: (t) => socket.send(t),
            close: (c, r) => socket.close(c, r),
            bufferedAmount: () => socket.bufferedAmount,
          },
          source,
        );
        const timer = setInterval(() => {
          const verdict = conn.check();
          // Deno's own pings are invisible here: a JSON ping gets a pong frame back.
          if (verdict === 'ping') socket.send('{"t":"ping"}');
          else if (verdict === 'close') socket.close(1008, 'timeout');
        }, server.sweepIntervalMs);
        const stop = () => clearInterval(timer);
        sweepers.add(stop);
        socket.onmessage = (ev) => {
          if (typeof ev.data === 'string' && ev.data.length > server.limits.maxMessageBytes) {
            socket.close(1009, 'too large');
            return;
          }
          conn.message(typeof ev.data === 'string' ? ev.data : new Uint8Array(ev.data as ArrayBuffer));
        };
        socket.onclose = () => {
          stop();
          sweepers.delete(stop);
          conn.closed();
        };
      };
      return response;
    },
  );
  const addr = await ready;
  return {
    url: `ws://${addr.hostname}:${addr.port}`,
    server,
    close: async () => {
      for (const s of sweepers) s();
      await http.shutdown();
      await server.close();
    },
  };
}
