/** A minimal typed event emitter (EventTarget's typing is awkward for payload events). */
export class Emitter<Events extends Record<string, unknown>> {
  readonly #handlers = new Map<keyof Events, Set<(payload: never) => void>>();

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

  /** Calls every handler; a throwing handler is reported through `onError` and does not stop the others. */
  emit<K extends keyof Events>(type: K, payload: Events[K], onError?: (e: unknown) => void): void {
    const set = this.#handlers.get(type);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        (fn as (p: Events[K]) => void)(payload);
      } catch (e) {
        onError?.(e);
      }
    }
  }

  listenerCount(type: keyof Events): number {
    return this.#handlers.get(type)?.size ?? 0;
  }
}
