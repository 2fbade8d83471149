export {
  compareHlc,
  HLC_MAX_COUNTER,
  type HlcOptions,
  HlcSkewError,
  type HlcTimestamp,
  HybridLogicalClock,
} from './hlc.ts';
export { CryptoRandom, SeededRandom, shuffle } from './random.ts';
export { RealScheduler, realClock, realEnv } from './real.ts';
export type { Clock, Env, Random, Scheduler, TimerId, TimerWindow } from './types.ts';
export { TimerScope, VirtualClock, VirtualScheduler } from './virtual.ts';
