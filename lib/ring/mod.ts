export { hash64 } from '../util/hash64.ts';
export { ConsistentHashRing, type RingOptions } from './consistent-hash-ring.ts';
