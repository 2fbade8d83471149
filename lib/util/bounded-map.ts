/**
 * Sets `key` in `map` as its newest entry (insertion order is age) and drops the oldest
 * entries beyond `limit`: memory that peers' input can grow, kept to a fixed size.
 */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, limit: number): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > limit) map.delete(map.keys().next().value as K);
}
