/**
 * Node ids ↔ small integers, so member tables can be typed arrays. One interner may be
 * shared by every node of a simulation (10,000 nodes × 10,000 members would otherwise
 * repeat every id string 10,000 times). Ids arrive from the wire as 16 raw bytes; a numeric
 * index over their first 6 bytes finds them without building hex strings.
 *
 * Every member table that holds an id holds a reference to it (`acquire`, `release`); an
 * id no table holds any more is forgotten and its index reused, so the interner holds no
 * more ids than the tables sharing it hold members — not every id ever seen on the wire.
 */
import { equalBytes, fromHex } from '../util/bytes.ts';

function head48(b: Uint8Array): number {
  return b[0]! * 2 ** 40 + b[1]! * 2 ** 32 + b[2]! * 2 ** 24 + b[3]! * 2 ** 16 + b[4]! * 2 ** 8 + b[5]!;
}

export class IdInterner {
  readonly #index = new Map<string, number>();
  readonly #ids: Array<string | undefined> = [];
  readonly #bytes: Array<Uint8Array | undefined> = [];
  readonly #refs: number[] = [];
  /** Indices of released ids, reused before new ones. */
  readonly #free: number[] = [];
  /** First 48 bits → index; a collision chains to an array of indices. */
  readonly #byHead = new Map<number, number | number[]>();

  /** The index of `id`, interning it if new, and one more reference to it. */
  acquire(id: string): number {
    let i = this.#index.get(id);
    if (i === undefined) {
      const bytes = fromHex(id);
      i = this.#free.pop() ?? this.#ids.length;
      this.#ids[i] = id;
      this.#bytes[i] = bytes;
      this.#refs[i] = 0;
      this.#index.set(id, i);
      const h = head48(bytes);
      const prev = this.#byHead.get(h);
      this.#byHead.set(h, prev === undefined ? i : Array.isArray(prev) ? [...prev, i] : [prev, i]);
    }
    this.#refs[i]!++;
    return i;
  }

  /** Drops one reference; the last one forgets the id and frees its index. */
  release(index: number): void {
    const id = this.#ids[index];
    if (id === undefined) return;
    if (--this.#refs[index]! > 0) return;
    const h = head48(this.#bytes[index]!);
    const chain = this.#byHead.get(h);
    if (Array.isArray(chain)) {
      const rest = chain.filter((x) => x !== index);
      this.#byHead.set(h, rest.length === 1 ? rest[0]! : rest);
    } else {
      this.#byHead.delete(h);
    }
    this.#index.delete(id);
    this.#ids[index] = undefined;
    this.#bytes[index] = undefined;
    this.#free.push(index);
  }

  lookup(id: string): number | undefined {
    return this.#index.get(id);
  }

  /** The index of a 16-byte raw id, if interned. */
  lookupBytes(id: Uint8Array): number | undefined {
    if (id.length !== 16) return undefined;
    const hit = this.#byHead.get(head48(id));
    if (hit === undefined) return undefined;
    for (const i of Array.isArray(hit) ? hit : [hit]) if (equalBytes(this.#bytes[i]!, id)) return i;
    return undefined;
  }

  idOf(index: number): string {
    const id = this.#ids[index];
    if (id === undefined) throw new RangeError(`no id interned at ${index}`);
    return id;
  }

  /** The raw 16 bytes of an interned id (shared: do not modify). */
  bytesOf(index: number): Uint8Array {
    const b = this.#bytes[index];
    if (b === undefined) throw new RangeError(`no id interned at ${index}`);
    return b;
  }

  /** Ids held now. */
  get size(): number {
    return this.#index.size;
  }

  /** One past the highest index in use or free (indices are dense below it). */
  get capacity(): number {
    return this.#ids.length;
  }
}
