/**
 * Lifeguard local health awareness (memberlist's awareness.go). A node that misses acks it
 * should have had, gets no nacks from witnesses, or finds itself suspected, is probably the
 * slow one: it raises its score and stretches its own probe interval and timeouts by
 * (1 + score), so a struggling node stops accusing healthy ones.
 */
export class LocalHealth {
  readonly #max: number;
  #score = 0;

  constructor(max: number) {
    this.#max = max;
  }

  get score(): number {
    return this.#score;
  }

  apply(delta: number): void {
    this.#score = Math.min(this.#max, Math.max(0, this.#score + delta));
  }

  /** Scales a timeout by the current health. */
  scale(ms: number): number {
    return ms * (1 + this.#score);
  }
}
