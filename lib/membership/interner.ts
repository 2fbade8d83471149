/**
 * Node ids ↔ small integers, so member tables can be typed arrays. One interner may be
 * shared by every node of a simulation (10,000 nodes × 10,000 members would otherwise
 * repeat every id string 10,000 times). Ids arrive from the wire as 16 raw bytes; a numeric
 * index over their first 6 bytes finds them without building hex strings.
 */
import { equalBytes, fromHex } from '../util/bytes.ts';

function head48(b: Uint8Array): number {
  return b[0]! * 2 ** 40 + b[1]! * 2 ** 32 + b[2]! * 2 ** 24 + b[3]! * 2 ** 16 + b[4]! * 2 ** 8 + b[5]!;
}

export class IdInterner {
  readonly #index = new Map<string, number>();
  readonly #ids: string[] = [];
  readonly #bytes: Uint8Array[] = [];
  /** First 48 bits → index; a collision chains to an array of indices. */
  readonly #byHead = new Map<number, number | number[]>();

  intern(id: string): number {
    let i = this.#index.get(id);
    if (i === undefined) {
      i = this.#ids.length;
      const bytes = fromHex(id);
      this.#ids.push(id);
      this.#bytes.push(bytes);
      this.#index.set(id, i);
      const h = head48(bytes);
      const prev = this.#byHead.get(h);
      this.#byHead.set(h, prev === undefined ? i : Array.isArray(prev) ? [...prev, i] : [prev, i]);
    }
    return i;
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

  get size(): number {
    return this.#ids.length;
  }
}
