/** Traffic counters of one simulated host (what its network interface saw). */
export interface HostTraffic {
  datagramsOut: number;
  datagramsIn: number;
  streamFramesOut: number;
  streamFramesIn: number;
  bytesOut: number;
  bytesIn: number;
  /** Datagrams lost to loss, partitions or crashed peers. */
  datagramsDropped: number;
}

export function emptyTraffic(): HostTraffic {
  return {
    datagramsOut: 0,
    datagramsIn: 0,
    streamFramesOut: 0,
    streamFramesIn: 0,
    bytesOut: 0,
    bytesIn: 0,
    datagramsDropped: 0,
  };
}

export function addTraffic(into: HostTraffic, from: HostTraffic): HostTraffic {
  into.datagramsOut += from.datagramsOut;
  into.datagramsIn += from.datagramsIn;
  into.streamFramesOut += from.streamFramesOut;
  into.streamFramesIn += from.streamFramesIn;
  into.bytesOut += from.bytesOut;
  into.bytesIn += from.bytesIn;
  into.datagramsDropped += from.datagramsDropped;
  return into;
}
