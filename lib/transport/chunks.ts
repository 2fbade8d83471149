/**
 * Splitting messages for channels that cap message size (WebRTC data channels). Each chunk
 * starts with one flag byte: WHOLE (the message fits), MORE (a piece, more follow), LAST (the
 * final piece). The reliable channel is ordered, so pieces of one message arrive in sequence
 * and are appended until LAST.
 *
 * Chunk size is the sender's choice: the Reassembler bounds only the reassembled message
 * (its cap), never a chunk, and has done so in every version (since the WebRTC transport
 * came), so a sender may use chunks as large as its peer's data channel takes
 * (peer-channel.ts) while receivers of any version reassemble them.
 */
/** Safe with every WebRTC stack; the chunk size when the peer's limit is not known. */
export const CHUNK_BYTES = 16 * 1024;
/**
 * What a MORE piece counts against the cap at least: no sender makes pieces that small
 * (chunks are at least CHUNK_BYTES), and a flood of tiny or empty pieces would otherwise hold
 * a part each in memory while counting nothing.
 */
export const MIN_PIECE_CHARGE = 1024;
const WHOLE = 0;
const MORE = 1;
const LAST = 2;

export function chunk(message: Uint8Array, size = CHUNK_BYTES): Uint8Array[] {
  const body = size - 1;
  if (message.length <= body) {
    const out = new Uint8Array(message.length + 1);
    out[0] = WHOLE;
    out.set(message, 1);
    return [out];
  }
  const chunks: Uint8Array[] = [];
  for (let off = 0; off < message.length; off += body) {
    const piece = message.subarray(off, off + body);
    const out = new Uint8Array(piece.length + 1);
    out[0] = off + body >= message.length ? LAST : MORE;
    out.set(piece, 1);
    chunks.push(out);
  }
  return chunks;
}

/** Why a chunk sequence was refused (`ChunkError.code`): the peer sent something no sender makes. */
export type ChunkErrorCode = 'empty-chunk' | 'bad-flag' | 'unexpected-whole' | 'too-large';

export class ChunkError extends Error {
  override name = 'ChunkError';
  readonly code: ChunkErrorCode;
  constructor(code: ChunkErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** Reassembles chunks; throws ChunkError on a malformed sequence or a message over the cap. */
export class Reassembler {
  readonly #max: number;
  #parts: Uint8Array[] = [];
  #size = 0;
  /** What the parts count against the cap (MORE pieces at least MIN_PIECE_CHARGE each). */
  #charged = 0;

  constructor(maxMessageBytes: number) {
    this.#max = maxMessageBytes;
  }

  /** The completed message, or undefined while pieces are still expected. */
  push(c: Uint8Array): Uint8Array | undefined {
    if (c.length === 0) throw new ChunkError('empty-chunk', 'empty chunk');
    const flag = c[0];
    const piece = c.subarray(1);
    if (flag === WHOLE) {
      if (this.#parts.length > 0)
        throw new ChunkError('unexpected-whole', 'whole message inside a chunked one');
      if (piece.length > this.#max) throw new ChunkError('too-large', 'message too large');
      return piece;
    }
    if (flag !== MORE && flag !== LAST) throw new ChunkError('bad-flag', `bad chunk flag ${flag}`);
    this.#size += piece.length;
    this.#charged += flag === MORE ? Math.max(piece.length, MIN_PIECE_CHARGE) : piece.length;
    if (this.#charged > this.#max) throw new ChunkError('too-large', `message over ${this.#max} bytes`);
    this.#parts.push(piece);
    if (flag === MORE) return undefined;
    const out = new Uint8Array(this.#size);
    let off = 0;
    for (const p of this.#parts) {
      out.set(p, off);
      off += p.length;
    }
    this.#parts = [];
    this.#size = 0;
    this.#charged = 0;
    return out;
  }
}
