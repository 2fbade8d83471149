/** The signaling server on Deno (Deno.serve + WebSocket upgrade), from the same core as on Node. */
import { SignalingServer, type SignalingServerOptions } from './server.ts';

interface DenoApi {
  serve(
    opts: { hostname: string; port: number; onListen?: (addr: { hostname: string; port: number }) => void },
    handler: (req: Request) => Response,
  ): { shutdown(): Promise<void> };
  upgradeWebSocket(req: Request, opts?: { idleTimeout?: number }): { socket: WebSocket; response: Response };
}

export interface DenoSignalingOptions extends SignalingServerOptions {
  hostname?: string;
  port?: number;
}

export async function serveSignalingDeno(
  opts: DenoSignalingOptions = {},
): Promise<{ url: string; server: SignalingServer; close(): Promise<void> }> {
  const deno = (globalThis as unknown as { Deno?: DenoApi }).Deno;
  if (!deno) throw new Error('serveSignalingDeno runs on Deno only');
  const server = new SignalingServer(opts);
  const sweepers = new Set<() => void>();
  let listening!: (addr: { hostname: string; port: number }) => void;
  const ready = new Promise<{ hostname: string; port: number }>((ok) => {
    listening = ok;
  });
  const http = deno.serve(
    { hostname: opts.hostname ?? '127.0.0.1', port: opts.port ?? 8787, onListen: (a) => listening(a) },
    (req) => {
      if (new URL(req.url).pathname === '/health') {
        return new Response(JSON.stringify({ ok: true, ...server.stats() }), {
          headers: { 'content-type': 'application/json' },
        });
      }
      if (req.headers.get('upgrade')?.toLowerCase() !== 'websocket')
        return new Response('not found\n', { status: 404 });
      // Deno answers pings and closes sockets idle past idleTimeout (seconds) by itself.
      const { socket, response } = deno.upgradeWebSocket(req, {
        idleTimeout: Math.ceil(server.limits.idleTimeoutMs / 1000),
      });
      socket.onopen = () => {
        const conn = server.accept({ send: (t) => socket.send(t), close: (c, r) => socket.close(c, r) });
        const timer = setInterval(() => {
          if (!conn.alive()) socket.close(1008, 'timeout');
        }, server.limits.idleTimeoutMs / 3);
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
    },
  };
}
