export { ConsistentHashRing, hash64, type RingOptions } from './consistent-hash-ring.ts';
