/**
 * Node ids ↔ small integers, so member tables can be typed arrays. One interner may be
 * shared by every node of a simulation (10,000 nodes × 10,000 members would otherwise
 * repeat every id string 10,000 times).
 */
export class IdInterner {
  readonly #index = new Map<string, number>();
  readonly #ids: string[] = [];

  intern(id: string): number {
    let i = this.#index.get(id);
    if (i === undefined) {
      i = this.#ids.length;
      this.#ids.push(id);
      this.#index.set(id, i);
    }
    return i;
  }

  lookup(id: string): number | undefined {
    return this.#index.get(id);
  }

  idOf(index: number): string {
    const id = this.#ids[index];
    if (id === undefined) throw new RangeError(`no id interned at ${index}`);
    return id;
  }

  get size(): number {
    return this.#ids.length;
  }
}
