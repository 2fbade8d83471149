/**
 * What a node keeps across restarts besides its identity: the last incarnation (a restart
 * must never reuse one, or its claims would be taken for old news or a twin) and the HLC
 * reservation (own writes must never be stamped below an earlier run's). Failures to write
 * are reported, not thrown: the node keeps running and says so.
 */
import type { Storage } from '../storage/types.ts';

const INCARNATION_KEY = 'incarnation';
const HLC_KEY = 'hlc';
/** Incarnations are 32-bit; a fresh start stays this far below the top so it can still refute. */
const MAX_START_INCARNATION = 0xfffffff0;

export class NodePersistence {
  readonly #storage: Storage;
  readonly #failed: (error: unknown, context: string) => void;

  constructor(storage: Storage, failed: (error: unknown, context: string) => void) {
    this.#storage = storage;
    this.#failed = failed;
  }

  /**
   * The incarnation this run starts at — max(stored + 1, wall-clock seconds), so it exceeds
   * every earlier one even when storage was lost — stored before it is used.
   */
  async startIncarnation(wallNowMs: number): Promise<number> {
    const stored = await this.#storage.get(INCARNATION_KEY);
    const previous = stored?.length === 4 ? new DataView(stored.buffer, stored.byteOffset).getUint32(0) : 0;
    const incarnation = Math.min(MAX_START_INCARNATION, Math.max(previous + 1, Math.floor(wallNowMs / 1000)));
    await this.saveIncarnation(incarnation);
    return incarnation;
  }

  async saveIncarnation(incarnation: number): Promise<void> {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, incarnation);
    try {
      await this.#storage.set(INCARNATION_KEY, b);
    } catch (error) {
      this.#failed(error, 'persisting the incarnation');
    }
  }

  /** The HLC time an earlier run reserved (own writes stay above it), if any could be read. */
  async hlcNotBefore(): Promise<number | undefined> {
    const hlc = await this.#storage.get(HLC_KEY).catch(() => undefined);
    return hlc?.length === 8 ? new DataView(hlc.buffer, hlc.byteOffset).getFloat64(0) : undefined;
  }

  reserveHlc(until: number): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, until);
    this.#storage.set(HLC_KEY, b).catch((error) => this.#failed(error, 'persisting the HLC'));
  }
}
