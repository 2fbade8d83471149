/**
 * Streamed answers (MeshNode.requestStream / respondStream): one request answered in up to
 * `maxParts` messages, each at most `maxMessageBytes`. A bulk transfer (a chain catch-up) as
 * plain requests costs a request per message: each one a send on the link (a blocking call in
 * some WebRTC stacks) and a token of the answerer's per-origin quota, which at the default
 * 200 a second caps a transfer near 9 MB/s whatever the link. One request per many parts lifts
 * both.
 *
 * Cost to each side, hostile or not: the request is charged to the asker's quota at the
 * answerer as any request; parts the asker asked for are not charged to the answerer's quota
 * at the asker (they are bounded by the asks: at most `maxParts`, each within the frame limit,
 * and buffered until read at most that many); a part nobody asked for, or one past the count
 * asked, is dropped and ends the stream. The answerer sends each part only once the link has
 * drained below its high-water mark, and streams at most OPEN_STREAMS_PER_ORIGIN answers to
 * one origin at full length at once: beyond that, each is answered with one part (a plain
 * answer), so many asks cost what as many plain requests cost.
 */
import { MessagingError } from './messaging-errors.ts';

/** Most parts one request may ask for. */
export const MAX_PARTS = 64;
/** Streams one origin may have open at once at full length (more get one part each). */
export const OPEN_STREAMS_PER_ORIGIN = 16;

/**
 * Yields the parts of the answer to `data` from `from`, at most `maxParts` (more are not
 * sent): each a Uint8Array of at most maxMessageBytes. Throwing ends the stream with a
 * `remote-error` at the asker after the parts sent so far. A responder of this kind also
 * answers plain request()s on its topic, with its first part.
 */
export type StreamResponder = (
  data: Uint8Array,
  from: string,
  maxParts: number,
) => Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

export interface RequestStreamOptions {
  /** Parts to ask for (1..64). Default 16. */
  readonly maxParts?: number;
  /** How long to wait for the first part, and then for each next one. Default: messaging's requestTimeoutMs. */
  readonly timeoutMs?: number;
}

export const DEFAULT_PARTS = 16;

/** The request's payload on the wire: the part count first. */
export function streamRequestData(maxParts: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length + 1);
  out[0] = maxParts;
  out.set(data, 1);
  return out;
}

/** The part count and payload of a stream request, or undefined for a malformed one. */
export function readStreamRequest(data: Uint8Array): { maxParts: number; data: Uint8Array } | undefined {
  const maxParts = data[0];
  if (maxParts === undefined || maxParts < 1 || maxParts > MAX_PARTS) return undefined;
  return { maxParts, data: data.subarray(1) };
}

export function checkParts(maxParts: number): void {
  if (!Number.isInteger(maxParts) || maxParts < 1 || maxParts > MAX_PARTS)
    throw new MessagingError('bad-parts', `maxParts must be an integer in 1..${MAX_PARTS}: ${maxParts}`);
}

/**
 * The parts of one streamed answer, in order as they arrive, buffered until read; ends after
 * the last one, or fails (after the parts before the failure are read). Reading stops early
 * with `return()` (a `break` out of for await): later parts are then dropped as they come.
 */
export class PartStream implements AsyncIterableIterator<Uint8Array> {
  readonly #parts: Uint8Array[] = [];
  #ended = false;
  #error: Error | undefined;
  /** Reads waiting for a part, in the order they were made. */
  readonly #readers: Array<{ resolve(r: IteratorResult<Uint8Array>): void; reject(e: Error): void }> = [];
  readonly #onReturn: () => void;

  constructor(onReturn: () => void = () => {}) {
    this.#onReturn = onReturn;
  }

  /** A stream that fails at its first read (the request could not be sent). */
  static failed(error: Error): PartStream {
    const s = new PartStream();
    s.fail(error);
    return s;
  }

  /** Whether it has ended or failed (nothing more is taken). */
  get settled(): boolean {
    return this.#ended || this.#error !== undefined;
  }

  /** A part arrived; `last`: the answer ends with it. */
  push(part: Uint8Array, last: boolean): void {
    if (this.settled) return;
    this.#ended = last;
    const reader = this.#readers.shift();
    if (reader) reader.resolve({ done: false, value: part });
    else this.#parts.push(part);
    if (last) this.#flush();
  }

  fail(error: Error): void {
    if (this.settled) return;
    this.#error = error;
    this.#flush();
  }

  next(): Promise<IteratorResult<Uint8Array>> {
    const part = this.#parts.shift();
    if (part) return Promise.resolve({ done: false, value: part });
    if (this.#error) return Promise.reject(this.#error);
    if (this.#ended) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve, reject) => this.#readers.push({ resolve, reject }));
  }

  return(): Promise<IteratorResult<Uint8Array>> {
    this.#parts.length = 0;
    if (!this.settled) {
      this.#ended = true;
      this.#onReturn();
    }
    this.#flush();
    return Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Uint8Array> {
    return this;
  }

  /** Once settled: the reads still waiting (no part is buffered then) get the end or the error. */
  #flush(): void {
    for (const reader of this.#readers.splice(0)) {
      if (this.#error) reader.reject(this.#error);
      else reader.resolve({ done: true, value: undefined });
    }
  }
}

/** An iterator over what a responder returned (sync or async). */
export function iterate(
  parts: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
): AsyncIterator<Uint8Array> | Iterator<Uint8Array> {
  if (parts && typeof (parts as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === 'function')
    return (parts as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  if (parts && typeof (parts as Iterable<Uint8Array>)[Symbol.iterator] === 'function')
    return (parts as Iterable<Uint8Array>)[Symbol.iterator]();
  throw new Error('the responder returned no parts');
}
