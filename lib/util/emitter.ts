export interface EmitterOptions {
  /**
   * Warn on the console when an `error` event is emitted and nobody listens for it (default
   * true). Off only for emitters whose event names come from the network (message topics).
   */
  warnUnheardErrors?: boolean;
}

/**
 * A minimal typed event emitter (EventTarget's typing is awkward for payload events). Nothing
 * fails silently: an `error` event nobody listens for, and a throwing handler without an
 * `onError` to report to, are written to the console.
 */
export class Emitter<Events extends Record<string, unknown>> {
  readonly #handlers = new Map<keyof Events, Set<(payload: never) => void>>();
  readonly #warnUnheardErrors: boolean;

  constructor(opts: EmitterOptions = {}) {
    this.#warnUnheardErrors = opts.warnUnheardErrors ?? true;
  }

  on<K extends keyof Events>(type: K, fn: (payload: Events[K]) => void): () => void {
    let set = this.#handlers.get(type);
    if (!set) {
      set = new Set();
      this.#handlers.set(type, set);
    }
    set.add(fn as (payload: never) => void);
    return () => this.off(type, fn);
  }

  off<K extends keyof Events>(type: K, fn: (payload: Events[K]) => void): void {
    this.#handlers.get(type)?.delete(fn as (payload: never) => void);
  }

  once<K extends keyof Events>(type: K, fn: (payload: Events[K]) => void): () => void {
    const off = this.on(type, (p) => {
      off();
      fn(p);
    });
    return off;
  }

  /**
   * Calls every handler; a throwing handler does not stop the others and is reported through
   * `onError` (or, without one, on the console).
   */
  emit<K extends keyof Events>(type: K, payload: Events[K], onError?: (e: unknown) => void): void {
    const set = this.#handlers.get(type);
    if (!set || set.size === 0) {
      if (type === 'error' && this.#warnUnheardErrors)
        console.warn('weftmesh: an error event nobody listens for:', payload);
      return;
    }
    for (const fn of [...set]) {
      try {
        (fn as (p: Events[K]) => void)(payload);
      } catch (e) {
        if (onError) onError(e);
        else console.error(`weftmesh: a ${String(type)} handler threw:`, e);
      }
    }
  }

  listenerCount(type: keyof Events): number {
    return this.#handlers.get(type)?.size ?? 0;
  }
}
