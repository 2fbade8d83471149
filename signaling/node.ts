/** The signaling server on Node: an HTTP server (health endpoint, optional static files) with `ws`. */
import { createReadStream, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve } from 'node:path';
import { WebSocketServer } from 'ws';
import { CLOSE_TIMEOUT_MS, guardConnections, guardedServerOptions } from '../lib/websocket/http-guard.ts';
import { RedisBackplane, type RedisBackplaneOptions } from './redis-backplane.ts';

export { RedisBackplane, type RedisBackplaneOptions } from './redis-backplane.ts';

import { SignalingServer, type SignalingServerOptions } from './server.ts';

export interface NodeSignalingOptions extends SignalingServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8787; 0 picks a free port. */
  port?: number;
  /** Serve the files of this directory over HTTP (the browser demo). */
  staticDir?: string;
  /** Every HTTP request (the WebSocket upgrade included) must have sent its headers within this. Default 5,000 ms. */
  headersTimeoutMs?: number;
  /**
   * Behind a reverse proxy: the request header (e.g. `x-forwarded-for`, `x-real-ip`) that
   * carries the client's address, for the per-source cap; the last address in it counts
   * (the one the proxy itself saw). Opt-in and only behind a proxy that sets or overwrites
   * it: otherwise clients choose their own source. When unset, the socket's peer address
   * counts, and one source's TCP connections are capped before they even upgrade.
   */
  sourceHeader?: string;
  /**
   * Share rooms with every other instance that uses the same Redis (`redis://HOST:PORT[/DB]`,
   * or the backplane's options): clients of any instance meet in the same rooms. Default
   * none: rooms live in this process (see RedisBackplaneOptions for what is shared).
   */
  redis?: string | RedisBackplaneOptions;
  /** Where the server logs state changes (Redis connection lost and restored). Default nowhere. */
  log?: (line: string) => void;
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

/** The client address a request counts against: the trusted header's last entry, or the socket's peer. */
function sourceOf(req: IncomingMessage, header: string | undefined): string | undefined {
  if (header === undefined) return req.socket.remoteAddress;
  const value = req.headers[header.toLowerCase()];
  const last = (Array.isArray(value) ? value.join(',') : (value ?? '')).split(',').pop()?.trim();
  return last || req.socket.remoteAddress;
}

export async function startSignalingServer(opts: NodeSignalingOptions = {}): Promise<RunningSignalingServer> {
  const backplane =
    opts.redis === undefined
      ? undefined
      : new RedisBackplane({
          ...(typeof opts.redis === 'string' ? { url: opts.redis } : opts.redis),
          ...(opts.log ? { log: opts.log } : {}),
        });
  const server = new SignalingServer({ ...opts, ...(backplane ? { backplane } : {}) });
  const limits = server.limits;
  const started = performance.now();
  const options = guardedServerOptions({ headersTimeoutMs: opts.headersTimeoutMs ?? 5_000 });
  const http = createServer(options, (req, res) => {
    if (req.method === 'GET' && req.url === '/health') {
      const stats = server.stats();
      res.writeHead(200, { 'content-type': 'application/json' });
      // degraded: Redis is away, rooms are served from this instance alone until it is back.
      res.end(
        JSON.stringify({
          ok: true,
          ...(stats.backplane ? { degraded: stats.backplane.state !== 'up' } : {}),
          uptimeMs: Math.round(performance.now() - started),
          ...stats,
        }),
      );
      return;
    }
    if (req.method === 'GET' && opts.staticDir && serveStatic(join(opts.staticDir), req, res)) return;
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  });
  // TCP connections: room for every WebSocket the core admits plus requests still arriving
  // (those make room for newcomers at the cap; the core does the same for unjoined sockets).
  const tcp = guardConnections(http, {
    maxConnections: limits.maxConnections + Math.max(64, Math.ceil(limits.maxConnections / 10)),
    maxConnectionsPerSource: opts.sourceHeader === undefined ? limits.maxConnectionsPerSource : Infinity,
  });
  // closeTimeout (ws ≥ 8.23) is not in @types/ws yet.
  const wsOptions = { server: http, maxPayload: limits.maxMessageBytes, closeTimeout: CLOSE_TIMEOUT_MS };
  const wss = new WebSocketServer(wsOptions);
  const live = new Set<{ conn: ReturnType<SignalingServer['accept']>; ws: import('ws').WebSocket }>();
  wss.on('connection', (ws, req) => {
    tcp.settle(req.socket);
    const conn = server.accept(
      {
        send: (text) => ws.send(text),
        close: (code, reason) => ws.close(code, reason),
        bufferedAmount: () => ws.bufferedAmount,
      },
      sourceOf(req, opts.sourceHeader),
    );
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
      const verdict = conn.check();
      if (verdict === 'ping') ws.ping();
      else if (verdict === 'close') ws.close(); // after the reason; cut off after CLOSE_TIMEOUT_MS
    }
  }, server.sweepIntervalMs);
  sweep.unref();
  try {
    await new Promise<void>((ok, fail) => {
      http.once('error', fail);
      http.listen(opts.port ?? 8787, opts.host ?? '127.0.0.1', () => ok());
    });
  } catch (e) {
    clearInterval(sweep);
    await server.close();
    throw e;
  }
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
      http.closeAllConnections();
      await new Promise<void>((ok) => http.close(() => ok()));
      await server.close();
    },
  };
}
