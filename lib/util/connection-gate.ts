/**
 * Admission of connections before anyone has authenticated: a cap in total and a cap per
 * source address. At the total cap a new connection displaces the oldest one that has not
 * settled yet (authenticated: joined its room, finished its link handshake), so connections
 * that never authenticate cannot lock out one that does; it is refused only when every
 * connection has settled. Runtime-neutral: listeners and the signaling server share it.
 */

export interface ConnectionCaps {
  /** Connections at once. */
  maxConnections: number;
  /** Connections at once from one source (an IPv4 address, or an IPv6 /64). */
  maxConnectionsPerSource: number;
}

export type GateVerdict = 'ok' | 'source-full' | 'full';

export class ConnectionGate<C> {
  readonly #caps: ConnectionCaps;
  readonly #drop: (c: C) => void;
  readonly #sourceOf = new Map<C, string>();
  readonly #perSource = new Map<string, number>();
  /** Not yet settled, oldest first. */
  readonly #unsettled = new Set<C>();
  readonly counts = { sourceFull: 0, full: 0, displaced: 0 };

  /** `drop` closes a connection displaced to make room (it is already forgotten here). */
  constructor(caps: ConnectionCaps, drop: (c: C) => void) {
    this.#caps = caps;
    this.#drop = drop;
  }

  get size(): number {
    return this.#sourceOf.size;
  }

  /** Admits `c` from `address` (the peer's IP), displacing the oldest unsettled one if full. */
  open(c: C, address: string | undefined): GateVerdict {
    const source = sourceKey(address);
    if ((this.#perSource.get(source) ?? 0) >= this.#caps.maxConnectionsPerSource) {
      this.counts.sourceFull++;
      return 'source-full';
    }
    if (this.#sourceOf.size >= this.#caps.maxConnections) {
      const oldest = this.#unsettled.values().next();
      if (oldest.done) {
        this.counts.full++;
        return 'full';
      }
      this.counts.displaced++;
      this.close(oldest.value);
      this.#drop(oldest.value);
    }
    this.#sourceOf.set(c, source);
    this.#perSource.set(source, (this.#perSource.get(source) ?? 0) + 1);
    this.#unsettled.add(c);
    return 'ok';
  }

  /** `c` authenticated: it is no longer displaced to make room. */
  settle(c: C): void {
    this.#unsettled.delete(c);
  }

  /** `c` is gone (idempotent). */
  close(c: C): void {
    const source = this.#sourceOf.get(c);
    if (source === undefined) return;
    this.#sourceOf.delete(c);
    this.#unsettled.delete(c);
    const n = (this.#perSource.get(source) ?? 1) - 1;
    if (n > 0) this.#perSource.set(source, n);
    else this.#perSource.delete(source);
  }
}

/**
 * The source a connection is counted against: the IPv4 address (IPv4-mapped IPv6 included),
 * or the /64 prefix of an IPv6 address — one host usually holds a whole /64.
 */
export function sourceKey(address: string | undefined): string {
  const a = (address ?? '')
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/%.*$/, '');
  const v4 = /^(?:::ffff:)?(\d{1,3}(?:\.\d{1,3}){3})$/.exec(a);
  if (v4) return v4[1]!;
  if (!/^[0-9a-f:]+$/.test(a) || !a.includes(':')) return a;
  const [head = '', tail, extra] = a.split('::');
  if (extra !== undefined) return a;
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const missing = 8 - left.length - right.length;
  if (missing < 0 || (tail === undefined && missing !== 0)) return a;
  const groups = [...left, ...Array<string>(missing).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g || '0', 16).toString(16))
    .join(':')}::/64`;
}
