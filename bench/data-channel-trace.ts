/**
 * Timestamps of every RTCDataChannel send and message arrival in a page (epoch ms, 5 µs
 * steps in a cross-origin isolated page), for bench/consensus-browser.bench.ts's account of
 * where a round trip's time goes: in the leader's JavaScript, a follower's, or between
 * (WebRTC's threads, the browser process, the kernel). Off until `start()`.
 */
export type TraceEvent = ['send' | 'message', number];

export interface DataChannelTrace {
  start(): void;
  /** Stops, and returns what was recorded since start(). */
  stop(): TraceEvent[];
}

export function traceDataChannels(): DataChannelTrace {
  let log: TraceEvent[] | undefined;
  const at = () => performance.timeOrigin + performance.now();
  const proto = RTCDataChannel.prototype;
  const send = proto.send as (this: RTCDataChannel, data: unknown) => void;
  proto.send = function (this: RTCDataChannel, data: unknown) {
    log?.push(['send', at()]);
    send.call(this, data);
  } as typeof proto.send;
  // simple-peer takes messages through the onmessage property: wrap what it sets.
  const onmessage = Object.getOwnPropertyDescriptor(proto, 'onmessage')!;
  Object.defineProperty(proto, 'onmessage', {
    configurable: true,
    get() {
      return onmessage.get!.call(this);
    },
    set(fn: ((e: MessageEvent) => void) | null) {
      onmessage.set!.call(
        this,
        fn &&
          function (this: RTCDataChannel, e: MessageEvent) {
            log?.push(['message', at()]);
            fn.call(this, e);
          },
      );
    },
  });
  return {
    start: () => {
      log = [];
    },
    stop: () => {
      const out = log ?? [];
      log = undefined;
      return out;
    },
  };
}
