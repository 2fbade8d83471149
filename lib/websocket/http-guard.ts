/**
 * Node only: what keeps an HTTP server that upgrades to WebSockets from being held open by
 * clients that never finish (slowloris): a deadline for the request headers — the upgrade
 * request included — and connection caps in total and per source address (see
 * ConnectionGate) applied to every TCP connection as it opens.
 */
import type { Server, ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import { type ConnectionCaps, ConnectionGate } from '../util/connection-gate.ts';

export interface HttpGuardOptions extends ConnectionCaps {
  /** The request headers must have arrived this long after the request began. */
  headersTimeoutMs: number;
}

/** A peer that does not answer our close frame within this is cut off (ws waits 30 s by default). */
export const CLOSE_TIMEOUT_MS = 2_000;

/** Options for `createServer`: Node's own request deadlines, checked often enough to matter. */
export function guardedServerOptions(o: Pick<HttpGuardOptions, 'headersTimeoutMs'>): ServerOptions {
  return {
    headersTimeout: o.headersTimeoutMs,
    requestTimeout: 2 * o.headersTimeoutMs,
    keepAliveTimeout: Math.min(5_000, o.headersTimeoutMs),
    connectionsCheckingInterval: Math.max(100, Math.min(30_000, o.headersTimeoutMs / 4)),
  };
}

/**
 * Caps the TCP connections of `http`; returns the gate, on which the caller settles a socket
 * once its client authenticated (sockets that have not are displaced to make room).
 */
export function guardConnections(http: Server, caps: ConnectionCaps): ConnectionGate<Socket> {
  const gate = new ConnectionGate<Socket>(caps, (socket) => socket.destroy());
  http.on('connection', (socket: Socket) => {
    if (gate.open(socket, socket.remoteAddress) !== 'ok') {
      socket.destroy();
      return;
    }
    socket.once('close', () => gate.close(socket));
  });
  return gate;
}
