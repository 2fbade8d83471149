/** WebSocket links on Node: a listener on `ws`, and the `ws` client class for dialing (Node 20). */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import type { StandardWebSocket } from './channel.ts';
import type { StandardWebSocketConstructor, WebSocketListener } from './transport.ts';

export const NodeWebSocket = WebSocket as unknown as StandardWebSocketConstructor;

export interface NodeListenOptions {
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** Largest frame, bytes (plus one for the class byte). Default 1 MiB. */
  maxMessageBytes?: number;
}

export async function listenWebSocket(opts: NodeListenOptions): Promise<WebSocketListener> {
  const http = createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' });
    res.end('weftmesh WebSocket endpoint\n');
  });
  const wss = new WebSocketServer({ server: http, maxPayload: (opts.maxMessageBytes ?? 1 << 20) + 1 });
  let handler: ((ws: StandardWebSocket) => void) | undefined;
  const open = new Set<WebSocket>();
  wss.on('connection', (ws) => {
    open.add(ws);
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
    async close() {
      for (const ws of open) ws.terminate();
      await new Promise<void>((ok) => wss.close(() => ok()));
      await new Promise<void>((ok) => http.close(() => ok()));
    },
  };
}
