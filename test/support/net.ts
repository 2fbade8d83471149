/** Helpers for tests on real sockets (loopback only). */
import WebSocket from 'ws';

/**
 * Waits until `pred` holds (checked every `everyMs`; it may be async, e.g. a page query), and
 * fails after `ms` naming `what`. Pass `what` as a function to describe the state at the
 * failure (process output, counters) rather than at the call.
 */
export async function waitFor(
  pred: () => boolean | Promise<boolean>,
  ms = 10_000,
  what: string | (() => string) = 'condition',
  everyMs = 10,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end)
      throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface RawClient {
  ws: WebSocket;
  messages: Array<Record<string, unknown>>;
  closed: { code: number; reason: string } | undefined;
  sendJson(v: unknown): void;
  next(t: string, ms?: number): Promise<Record<string, unknown>>;
}

/** A bare WebSocket client that records every JSON frame it receives. */
export async function rawClient(url: string, headers?: Record<string, string>): Promise<RawClient> {
  const ws = new WebSocket(url, headers ? { headers } : {});
  const c: RawClient = {
    ws,
    messages: [],
    closed: undefined,
    sendJson: (v) => ws.send(JSON.stringify(v)),
    async next(t, ms = 5_000) {
      await waitFor(() => c.messages.some((m) => m.t === t), ms, `a ${t} frame`);
      const i = c.messages.findIndex((m) => m.t === t);
      return c.messages.splice(i, 1)[0]!;
    },
  };
  ws.on('message', (data) => {
    try {
      c.messages.push(JSON.parse(data.toString()));
    } catch {
      // not JSON: ignore
    }
  });
  ws.on('close', (code, reason) => {
    c.closed = { code, reason: reason.toString() };
  });
  ws.on('error', () => {});
  await new Promise<void>((ok, fail) => {
    ws.once('open', () => ok());
    ws.once('error', fail);
  });
  return c;
}
