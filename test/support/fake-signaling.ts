import type { SignalingPath } from '../../lib/webrtc/transport.ts';

/** A signaling path the test feeds signals into (`deliver`); what the transport sends goes nowhere. */
export function fakeSignaling(): SignalingPath & { deliver(from: string, data: unknown): void } {
  let handler: ((e: { from: string; data: unknown }) => void) | undefined;
  return {
    send: () => true,
    on: (_type, fn) => {
      handler = fn;
      return () => {
        handler = undefined;
      };
    },
    deliver: (from, data) => handler?.({ from, data }),
  };
}
