/**
 * WebSocket links on Deno: a listener on Deno.serve. Deno has a global WebSocket, so dialing
 * needs nothing extra. (Typed locally: this file is checked by `deno check`, and also compiles
 * under tsc, where the Deno namespace is unknown.)
 *
 * Connection caps (total and per source, see ConnectionGate) apply to upgraded WebSockets:
 * Deno.serve hands over a request only once its headers are complete and offers no setting
 * for how long it waits for them, so unlike the Node listener this one cannot time out a
 * slow upgrade request itself — put a proxy with header timeouts in front where that matters.
 */
import { TransportError } from '../transport/errors.ts';
import { ConnectionGate } from '../util/connection-gate.ts';
import type { StandardWebSocket } from './channel.ts';
import type { WebSocketListener } from './transport.ts';

interface DenoServe {
  serve(
    opts: { hostname: string; port: number; onListen?: (addr: { hostname: string; port: number }) => void },
    handler: (req: Request, info: { remoteAddr: { hostname: string } }) => Response,
  ): { finished: Promise<void>; shutdown(): Promise<void>; addr: { hostname: string; port: number } };
  upgradeWebSocket(req: Request): { socket: StandardWebSocket; response: Response };
}

export async function listenWebSocketDeno(opts: {
  hostname?: string;
  port: number;
  /** WebSockets at once; at the cap the oldest one without a completed link handshake makes room. Default 512. */
  maxConnections?: number;
  /** WebSockets at once from one address (an IPv6 /64 counts as one). Default 64. */
  maxConnectionsPerSource?: number;
}): Promise<WebSocketListener> {
  const deno = (globalThis as unknown as { Deno?: DenoServe }).Deno;
  if (!deno) throw new TransportError('unsupported-runtime', 'listenWebSocketDeno runs on Deno only');
  let handler: ((ws: StandardWebSocket) => void) | undefined;
  // Gate entries exist before the upgrade, so a refused request is never upgraded.
  const gate = new ConnectionGate<{ socket?: StandardWebSocket }>(
    {
      maxConnections: opts.maxConnections ?? 512,
      maxConnectionsPerSource: opts.maxConnectionsPerSource ?? 64,
    },
    (entry) => entry.socket?.close(1013, 'displaced: no link handshake'),
  );
  const open = new Map<StandardWebSocket, { socket?: StandardWebSocket }>();
  let listening!: (addr: { hostname: string; port: number }) => void;
  const ready = new Promise<{ hostname: string; port: number }>((ok) => {
    listening = ok;
  });
  const server = deno.serve(
    { hostname: opts.hostname ?? '127.0.0.1', port: opts.port, onListen: (addr) => listening(addr) },
    (req, info) => {
      if (req.headers.get('upgrade')?.toLowerCase() !== 'websocket')
        return new Response('weftmesh WebSocket endpoint\n', {
          status: 426,
          headers: { connection: 'close' },
        });
      const entry: { socket?: StandardWebSocket } = {};
      if (gate.open(entry, info.remoteAddr.hostname) !== 'ok')
        return new Response('too many connections\n', { status: 503, headers: { connection: 'close' } });
      let upgraded: { socket: StandardWebSocket; response: Response };
      try {
        upgraded = deno.upgradeWebSocket(req);
      } catch {
        // Not a valid upgrade (no key, no Connection: upgrade): its place in the gate is freed.
        gate.close(entry);
        return new Response('bad websocket upgrade\n', { status: 400, headers: { connection: 'close' } });
      }
      const { socket, response } = upgraded;
      entry.socket = socket;
      open.set(socket, entry);
      socket.onopen = () => {
        if (handler) handler(socket);
        else socket.close(1013, 'not ready');
      };
      // The channel takes over onclose: a listener of its own keeps the count right.
      (socket as unknown as EventTarget).addEventListener('close', () => {
        open.delete(socket);
        gate.close(entry);
      });
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
    linked(ws) {
      const entry = open.get(ws);
      if (entry) gate.settle(entry);
    },
    async close() {
      for (const ws of open.keys()) ws.close(1001, 'closing');
      await server.shutdown();
    },
  };
}
