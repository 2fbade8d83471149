/**
 * WebSocket links on Deno: a listener on Deno.serve. Deno has a global WebSocket, so dialing
 * needs nothing extra. (Typed locally: this file is checked by `deno check`, and also compiles
 * under tsc, where the Deno namespace is unknown.)
 */
import type { StandardWebSocket } from './channel.ts';
import type { WebSocketListener } from './transport.ts';

interface DenoServe {
  serve(
    opts: { hostname: string; port: number; onListen?: (addr: { hostname: string; port: number }) => void },
    handler: (req: Request) => Response,
  ): { finished: Promise<void>; shutdown(): Promise<void>; addr: { hostname: string; port: number } };
  upgradeWebSocket(req: Request): { socket: StandardWebSocket; response: Response };
}

export async function listenWebSocketDeno(opts: {
  hostname?: string;
  port: number;
}): Promise<WebSocketListener> {
  const deno = (globalThis as unknown as { Deno?: DenoServe }).Deno;
  if (!deno) throw new Error('listenWebSocketDeno runs on Deno only');
  let handler: ((ws: StandardWebSocket) => void) | undefined;
  const open = new Set<StandardWebSocket>();
  let listening!: (addr: { hostname: string; port: number }) => void;
  const ready = new Promise<{ hostname: string; port: number }>((ok) => {
    listening = ok;
  });
  const server = deno.serve(
    { hostname: opts.hostname ?? '127.0.0.1', port: opts.port, onListen: (addr) => listening(addr) },
    (req) => {
      if (req.headers.get('upgrade')?.toLowerCase() !== 'websocket')
        return new Response('weftmesh WebSocket endpoint\n', { status: 426 });
      const { socket, response } = deno.upgradeWebSocket(req);
      socket.onopen = () => {
        open.add(socket);
        if (handler) handler(socket);
        else socket.close(1013, 'not ready');
      };
      return response;
    },
  );
  const addr = await ready;
  const host = addr.hostname.includes(':') ? `[${addr.hostname}]` : addr.hostname;
  return {
    url: `ws://${host}:${addr.port}`,
    onConnection(h) {
      handler = h;
    },
    async close() {
      for (const ws of open) ws.close(1001, 'closing');
      await server.shutdown();
    },
  };
}
