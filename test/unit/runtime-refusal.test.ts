// A runtime that refuses to dial (Deno without --allow-net: `new WebSocket()` throws
// NotCapable) is reported as an error event, once per address, instead of the node retrying
// its seeds in silence forever (issue 11, item 4). The real run is in test/net/docs-snippets.
import { describe, expect, it } from 'vitest';
import { NodeIdentity } from '../../lib/identity/mod.ts';
import { MeshNode } from '../../lib/node/mod.ts';
import { SimNetwork } from '../../lib/sim/mod.ts';
import { type StandardWebSocketConstructor, WebSocketTransport } from '../../lib/websocket/mod.ts';

/** A WebSocket class whose constructor throws like Deno's does without the permission. */
function refusing(name: string): StandardWebSocketConstructor {
  return class {
    constructor(url: string) {
      const e = new Error(
        `Requires net access to "${new URL(url).host}", run again with the --allow-net flag`,
      );
      e.name = name;
      throw e;
    }
  } as unknown as StandardWebSocketConstructor;
}

function nodeWith(WebSocket: StandardWebSocketConstructor) {
  const net = new SimNetwork({ seed: 5 });
  const host = net.addHost();
  const node = new MeshNode({
    identity: NodeIdentity.fromSecretKey(host.env.random.bytes(32)),
    cluster: 'refused',
    transport: new WebSocketTransport({ WebSocket }),
    env: host.env,
  });
  // (Dial errors only: a node still Joining after a while says so too, in its own words.)
  const errors: Array<{ error: unknown; context: string }> = [];
  node.on('error', (e) => {
    if (e.context.startsWith('dialling')) errors.push(e);
  });
  return { net, node, errors };
}

describe('a dial the runtime refuses', () => {
  it('Deno without --allow-net: reported once per address as an error event naming the flag', async () => {
    const { net, node, errors } = nodeWith(refusing('NotCapable'));
    await node.start();
    void node.join(['ws://127.0.0.1:9', 'ws://127.0.0.1:10']);
    net.runFor(20_000); // seeds are redialled meanwhile
    expect(errors.map((e) => e.context)).toEqual([
      'dialling ws://127.0.0.1:9: refused by the runtime',
      'dialling ws://127.0.0.1:10: refused by the runtime',
    ]);
    expect(String(errors[0]!.error)).toContain('--allow-net');
    node.close();
  });

  it('an ordinary dial failure (nobody listening) is retried without an error event', async () => {
    const { net, node, errors } = nodeWith(refusing('Error'));
    await node.start();
    void node.join(['ws://127.0.0.1:9']);
    net.runFor(20_000);
    expect(errors).toEqual([]);
    node.close();
  });
});
