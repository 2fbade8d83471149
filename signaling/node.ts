/** The signaling server on Node: an HTTP server (health endpoint, optional static files) with `ws`. */
import { createReadStream, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve } from 'node:path';
import { WebSocketServer } from 'ws';
import { SignalingServer, type SignalingServerOptions } from './server.ts';

export interface NodeSignalingOptions extends SignalingServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8787; 0 picks a free port. */
  port?: number;
  /** Serve the files of this directory over HTTP (the browser demo). */
  staticDir?: string;
}

export interface RunningSignalingServer {
  readonly server: SignalingServer;
  readonly http: Server;
  readonly port: number;
  /** ws://host:port */
  readonly url: string;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.map': 'application/json',
};

function serveStatic(root: string, req: IncomingMessage, res: ServerResponse): boolean {
  const url = new URL(req.url ?? '/', 'http://x');
  const rel = normalize(decodeURIComponent(url.pathname)).replace(/^(\.\.[/\\])+/, '');
  const path = resolve(root, `.${rel.endsWith('/') ? `${rel}index.html` : rel}`);
  if (!path.startsWith(resolve(root))) return false;
  try {
    if (!statSync(path).isFile()) return false;
  } catch {
    return false;
  }
  res.writeHead(200, {
    'content-type': TYPES[extname(path)] ?? 'application/octet-stream',
    'cache-control': 'no-cache',
  });
  createReadStream(path).pipe(res);
  return true;
}

export async function startSignalingServer(opts: NodeSignalingOptions = {}): Promise<RunningSignalingServer> {
  const server = new SignalingServer(opts);
  const started = performance.now();
  const http = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ ok: true, uptimeMs: Math.round(performance.now() - started), ...server.stats() }),
      );
      return;
    }
    if (req.method === 'GET' && opts.staticDir && serveStatic(join(opts.staticDir), req, res)) return;
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  });
  const wss = new WebSocketServer({ server: http, maxPayload: server.limits.maxMessageBytes });
  const live = new Set<{ conn: ReturnType<SignalingServer['accept']>; ws: import('ws').WebSocket }>();
  wss.on('connection', (ws) => {
    const conn = server.accept({
      send: (text) => ws.send(text),
      close: (code, reason) => ws.close(code, reason),
    });
    const entry = { conn, ws };
    live.add(entry);
    ws.on('message', (data, isBinary) =>
      conn.message(isBinary ? new Uint8Array(data as Buffer) : data.toString()),
    );
    ws.on('pong', () => conn.touch());
    ws.on('close', () => {
      live.delete(entry);
      conn.closed();
    });
    // A frame over maxPayload or a protocol violation: ws closes the socket; nothing escapes.
    ws.on('error', () => ws.terminate());
  });
  wss.on('error', () => {});
  const sweep = setInterval(() => {
    for (const { conn, ws } of live) {
      if (conn.alive()) ws.ping();
      else ws.terminate();
    }
  }, server.limits.idleTimeoutMs / 3);
  sweep.unref();
  await new Promise<void>((ok, fail) => {
    http.once('error', fail);
    http.listen(opts.port ?? 8787, opts.host ?? '127.0.0.1', () => ok());
  });
  const { port, address } = http.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    server,
    http,
    port,
    url: `ws://${host}:${port}`,
    close: async () => {
      clearInterval(sweep);
      for (const { ws } of live) ws.terminate();
      await new Promise<void>((ok) => wss.close(() => ok()));
      await new Promise<void>((ok) => http.close(() => ok()));
    },
  };
}
