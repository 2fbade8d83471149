/** WebSocket links on Node: a listener on `ws`, and the `ws` client class for dialing (Node 20). */
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import type { StandardWebSocket } from './channel.ts';
import { CLOSE_TIMEOUT_MS, guardConnections, guardedServerOptions } from './http-guard.ts';
import type { StandardWebSocketConstructor, WebSocketListener } from './transport.ts';

export const NodeWebSocket = WebSocket as unknown as StandardWebSocketConstructor;

export interface NodeListenOptions {
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** Largest frame, bytes (plus one for the class byte). Default 1 MiB. */
  maxMessageBytes?: number;
  /**
   * The HTTP upgrade request must have arrived whole within this; a slower one gets 408 and
   * is closed. (After the upgrade the link handshake has its own deadline, the node's
   * `handshakeTimeoutMs`.) Default 5,000 ms.
   */
  headersTimeoutMs?: number;
  /**
   * TCP connections at once. At the cap a new connection displaces the oldest one that has
   * not completed its link handshake, so half-open clients cannot lock out nodes. Default 512.
   */
  maxConnections?: number;
  /**
   * TCP connections at once from one address (an IPv6 /64 counts as one). Default 64. Behind
   * a reverse proxy every client has the proxy's address: raise this and limit at the proxy.
   */
  maxConnectionsPerSource?: number;
}

export async function listenWebSocket(opts: NodeListenOptions): Promise<WebSocketListener> {
  const http = createServer(
    guardedServerOptions({ headersTimeoutMs: opts.headersTimeoutMs ?? 5_000 }),
    (_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain', connection: 'close' });
      res.end('weftmesh WebSocket endpoint\n');
    },
  );
  const gate = guardConnections(http, {
    maxConnections: opts.maxConnections ?? 512,
    maxConnectionsPerSource: opts.maxConnectionsPerSource ?? 64,
  });
  // closeTimeout (ws ≥ 8.23) is not in @types/ws yet.
  const wsOptions = {
    server: http,
    maxPayload: (opts.maxMessageBytes ?? 1 << 20) + 1,
    closeTimeout: CLOSE_TIMEOUT_MS,
  };
  const wss = new WebSocketServer(wsOptions);
  let handler: ((ws: StandardWebSocket) => void) | undefined;
  const open = new Map<WebSocket, Socket>();
  wss.on('connection', (ws, req) => {
    open.set(ws, req.socket);
    ws.on('close', () => open.delete(ws));
    ws.on('error', () => ws.terminate());
    if (handler) handler(ws as unknown as StandardWebSocket);
    else ws.close(1013, 'not ready');
  });
  wss.on('error', () => {});
  await new Promise<void>((ok, fail) => {
    http.once('error', fail);
    http.listen(opts.port, opts.host ?? '127.0.0.1', () => ok());
  });
  const { port, address } = http.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    url: `ws://${host}:${port}`,
    onConnection(h) {
      handler = h;
    },
    linked(ws) {
      const socket = open.get(ws as unknown as WebSocket);
      if (socket) gate.settle(socket);
    },
    async close() {
      for (const ws of open.keys()) ws.terminate();
      await new Promise<void>((ok) => wss.close(() => ok()));
      http.closeAllConnections();
      await new Promise<void>((ok) => http.close(() => ok()));
    },
  };
}
