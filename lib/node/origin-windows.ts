/**
 * What this node has already accepted from each origin, for the messages an origin signs
 * with its boot epoch and a sequence number (broadcasts, relayed messages): per origin, the
 * epoch, the highest sequence number and a bitmap of the WINDOW numbers below it, as
 * IPsec and DTLS anti-replay do. Copies that arrive over several paths and replays are
 * recognised however much other traffic passed in between — unlike one shared memory of
 * recent ids, which a flood of junk can flush. A newer epoch (the origin restarted) starts
 * a fresh window; older epochs, and numbers below the window, count as seen.
 *
 * Bounded: at most `maxOrigins` windows. When full, the least recently used origin that
 * `keep` does not protect (the caller keeps reachable members) is forgotten first.
 */

/** Sequence numbers remembered below the highest one, per origin. */
export const REPLAY_WINDOW = 1024;

interface Window {
  epoch: number;
  top: number;
  bits: Uint32Array;
}

export class OriginWindows {
  readonly #windows = new Map<string, Window>();
  readonly #max: number;
  readonly #keep: (origin: string) => boolean;

  constructor(maxOrigins: number, keep: (origin: string) => boolean) {
    this.#max = Math.max(1, maxOrigins);
    this.#keep = keep;
  }

  get size(): number {
    return this.#windows.size;
  }

  /** Whether (`epoch`, `seq`) from `origin` was accepted before, or is too old to tell. */
  seen(origin: string, epoch: number, seq: number): boolean {
    const w = this.#windows.get(origin);
    if (!w || epoch > w.epoch) return false;
    // An earlier run's numbers are all old, however high (checked before `top`: else a replay
    // from the last run would be taken and would move this run's window past its real numbers).
    if (epoch < w.epoch) return true;
    if (seq > w.top) return false;
    if (seq <= w.top - REPLAY_WINDOW) return true;
    return hasBit(w.bits, seq);
  }

  /** Records (`epoch`, `seq`) from `origin`; false when it was seen already (a copy or a replay). */
  accept(origin: string, epoch: number, seq: number): boolean {
    if (this.seen(origin, epoch, seq)) return false;
    let w = this.#windows.get(origin);
    this.#windows.delete(origin);
    if (!w || epoch > w.epoch) w = { epoch, top: seq, bits: new Uint32Array(REPLAY_WINDOW / 32) };
    else if (seq > w.top) slide(w, seq);
    w.bits[(seq % REPLAY_WINDOW) >>> 5]! |= 1 << (seq & 31);
    this.#windows.set(origin, w);
    if (this.#windows.size > this.#max) this.#evict(origin);
    return true;
  }

  #evict(fresh: string): void {
    let oldest: string | undefined;
    for (const origin of this.#windows.keys()) {
      if (origin === fresh) continue;
      oldest ??= origin;
      if (!this.#keep(origin)) {
        this.#windows.delete(origin);
        return;
      }
    }
    if (oldest !== undefined) this.#windows.delete(oldest);
  }
}

function hasBit(bits: Uint32Array, seq: number): boolean {
  return (bits[(seq % REPLAY_WINDOW) >>> 5]! & (1 << (seq & 31))) !== 0;
}

/** Moves the window up to `seq`, clearing the numbers it passes. */
function slide(w: Window, seq: number): void {
  if (seq - w.top >= REPLAY_WINDOW) w.bits.fill(0);
  else for (let s = w.top + 1; s <= seq; s++) w.bits[(s % REPLAY_WINDOW) >>> 5]! &= ~(1 << (s & 31));
  w.top = seq;
}
