import assert from 'node:assert/strict';
import { sha256 } from '@noble/hashes/sha2.js';
import { SimNetwork, type SimNetworkOptions } from '../../lib/sim/mod.ts';
import { HandshakeError } from '../../lib/transport/handshake.ts';
import { toHex } from '../../lib/util/bytes.ts';
import { type SimPeer, simPeer, startPeer } from '../support/sim-peer.ts';
import type { Suite } from './case.ts';

function pair(opts: Partial<SimNetworkOptions> = {}) {
  const net = new SimNetwork({ seed: 1, ...opts });
  const a = simPeer(net);
  const b = simPeer(net);
  a.transport.connect(b.host.url);
  net.runFor(1_000);
  assert.equal(a.links.length, 1, 'link up');
  return { net, a, b, ab: a.links[0]!, ba: b.links[0]! };
}

const frame = (n: number, size = 8) => new Uint8Array(size).fill(n & 0xff);
const streamFrom = (p: SimPeer) => p.received.filter((r) => r.cls === 'stream').map((r) => r.frame[0]);

export const simNetworkCases: Suite = {
  'a dialled link: one round trip to connect, two for the handshake'() {
    const net = new SimNetwork({ seed: 1, latency: { meanMs: 10, jitterMs: 0 } });
    const a = simPeer(net);
    const b = simPeer(net);
    a.transport.connect(b.host.url, { expectNodeId: b.identity.nodeId });
    net.runUntil(49);
    assert.equal(a.links.length + b.links.length, 0);
    net.runUntil(51);
    assert.equal(b.links.length, 1, 'acceptor is up once auth verifies (t=50)');
    assert.equal(a.links.length, 0);
    net.runUntil(61);
    assert.equal(a.links[0]?.peer.nodeId, b.identity.nodeId, 'dialer is up when ready arrives (t=60)');
    assert.equal(b.links[0]?.peer.nodeId, a.identity.nodeId);
    assert.equal(a.links[0]?.transport, 'memory');
  },

  'stream frames keep their order under jitter; datagrams may reorder'() {
    const { net, ab, b } = pair({ latency: { meanMs: 20, jitterMs: 19 } });
    for (let i = 0; i < 200; i++) {
      ab.send(frame(i));
      ab.sendDatagram(frame(i));
    }
    net.runFor(1_000);
    assert.deepEqual(
      streamFrom(b),
      Array.from({ length: 200 }, (_, i) => i & 0xff),
    );
    const dgrams = b.received.filter((r) => r.cls === 'datagram').map((r) => r.frame[0]);
    assert.equal(dgrams.length, 200);
    assert.notDeepEqual(dgrams, streamFrom(b), 'jitter reorders datagrams');
  },

  'datagram loss and duplication follow the configured rates; streams lose nothing'() {
    const { net, ab, b, a } = pair();
    net.setFaults({ loss: 0.3, duplicate: 0.1 });
    for (let i = 0; i < 5_000; i++) {
      ab.sendDatagram(frame(i));
      ab.send(frame(i));
    }
    net.runFor(5_000);
    const got = b.received.filter((r) => r.cls === 'datagram').length;
    // Expected 5000 · 0.7 · 1.1 = 3850.
    assert.ok(got > 3_650 && got < 4_050, `datagrams delivered: ${got}`);
    assert.equal(streamFrom(b).length, 5_000);
    assert.ok(a.host.traffic.datagramsDropped > 1_300);
  },

  'a short partition delays stream frames and drops datagrams; the link survives'() {
    const { net, ab, b, a } = pair();
    net.partition([[a.host], [b.host]]);
    ab.send(frame(1));
    ab.sendDatagram(frame(2));
    net.runFor(5_000);
    assert.equal(b.received.length, 0);
    net.heal();
    ab.send(frame(3));
    net.runFor(1_000);
    assert.deepEqual(streamFrom(b), [1, 3]);
    assert.equal(b.received.filter((r) => r.cls === 'datagram').length, 0);
    assert.equal(a.closed.length + b.closed.length, 0);
  },

  'a partition longer than the link timeout closes the link on both sides'() {
    const { net, a, b } = pair({ linkTimeoutMs: 15_000 });
    const t0 = net.now;
    net.partition([[a.host], [b.host]]);
    net.runFor(14_000);
    assert.equal(a.closed.length, 0);
    net.runFor(2_000);
    assert.equal(a.closed[0]?.reason, 'link timed out');
    assert.equal(b.closed[0]?.at, t0 + 15_000);
    // And dialling across the partition fails after the connect timeout.
    a.transport.connect(b.host.url);
    net.runFor(11_000);
    assert.match(a.failures[0]?.message ?? '', /timed out/);
  },

  'a crashed host is noticed only by silence; after restart it accepts new links'() {
    const { net, a, b, ab } = pair({ linkTimeoutMs: 15_000 });
    const crashAt = net.now;
    b.host.crash();
    ab.send(frame(1));
    net.runFor(10_000);
    assert.equal(a.closed.length, 0, 'no goodbye from a crashed peer');
    net.runFor(6_000);
    assert.equal(a.closed[0]?.at, crashAt + 15_000);
    b.host.restart();
    const b2 = startPeer(net, b.host, 'test', b.identity);
    a.transport.connect(b.host.url);
    net.runFor(1_000);
    assert.equal(a.links.length, 2);
    assert.equal(b2.links[0]?.peer.nodeId, a.identity.nodeId);
    assert.equal(b2.received.length, 0, 'nothing from before the crash is delivered');
  },

  'closing a link is seen by the peer within a latency'() {
    const { net, ab, b } = pair();
    const t0 = net.now;
    ab.close();
    net.runFor(100);
    assert.equal(b.closed.length, 1);
    assert.ok(b.closed[0]!.at - t0 <= 15);
    assert.equal(net.connections, 0);
  },

  'dialling an address without a listener fails fast; a wrong cluster fails with a reason'() {
    const net = new SimNetwork({ seed: 2 });
    const a = simPeer(net);
    const idle = net.addHost();
    a.transport.connect(idle.url);
    net.runFor(100);
    assert.match(a.failures[0]?.message ?? '', /refused/);
    const other = simPeer(net, 'other-cluster');
    a.transport.connect(other.host.url);
    net.runFor(1_000);
    assert.ok(a.failures[1] instanceof HandshakeError);
    assert.equal(other.links.length, 0);
  },

  'bandwidth: 1 MB at 1 MB/s takes about a second'() {
    const { net, ab, b } = pair({ bandwidthBytesPerSec: 1_000_000, latency: { meanMs: 10, jitterMs: 0 } });
    const t0 = net.now;
    for (let i = 0; i < 100; i++) ab.send(frame(i, 10_000));
    net.runFor(5_000);
    const last = b.received[b.received.length - 1]!;
    assert.equal(b.received.length, 100);
    assert.ok(Math.abs(last.at - t0 - 1_010) < 2, `arrived after ${last.at - t0} ms`);
  },

  'traffic counters count frames and bytes per host'() {
    const { net, ab, a, b } = pair();
    const before = { ...a.host.traffic };
    ab.send(frame(0, 100));
    ab.sendDatagram(frame(0, 50));
    net.runFor(100);
    assert.equal(a.host.traffic.bytesOut - before.bytesOut, 150);
    assert.equal(a.host.traffic.streamFramesOut - before.streamFramesOut, 1);
    assert.equal(b.host.traffic.datagramsIn, 1);
    assert.equal(net.totalTraffic().bytesOut, a.host.traffic.bytesOut + b.host.traffic.bytesOut);
  },

  'same seed, same run, byte for byte; another seed, another run'() {
    const trace = (seed: number) => {
      const net = new SimNetwork({ seed, loss: 0.2, duplicate: 0.05, latency: { meanMs: 30, jitterMs: 25 } });
      const peers = Array.from({ length: 5 }, () => simPeer(net));
      for (const p of peers) for (const q of peers) if (p !== q) p.transport.connect(q.host.url);
      net.runFor(1_000);
      for (const p of peers)
        for (const l of p.links)
          for (let i = 0; i < 20; i++) {
            l.sendDatagram(frame(i));
            if (i % 3 === 0) l.send(frame(i));
          }
      net.runFor(2_000);
      const log = peers.flatMap((p, i) =>
        p.received.map((r) => `${i}<${r.from}:${r.cls}@${r.at.toFixed(6)}:${toHex(r.frame)}`),
      );
      return toHex(sha256(new TextEncoder().encode(log.join('\n'))));
    };
    assert.equal(trace(7), trace(7));
    assert.notEqual(trace(7), trace(8));
  },
};
