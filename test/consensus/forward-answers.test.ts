// A node outside the voter set forwards its calls to the leader it found: what comes back is
// read as the peer input it is. Anything but a well-formed answer is a ConsensusError whose
// outcome is unknown ('timeout'), never a TypeError or a value taken on trust of its shape.
import { describe, expect, it } from 'vitest';
import { type ConsensusMessenger, MeshConsensus } from '../../lib/consensus/mesh.ts';
import { SeededRandom } from '../../lib/time/random.ts';
import { VirtualClock, VirtualScheduler } from '../../lib/time/virtual.ts';
import { encodeCbor } from '../../lib/wire/cbor.ts';

function outsider(answers: Uint8Array[]) {
  const scheduler = new VirtualScheduler();
  const env = { clock: new VirtualClock(scheduler), scheduler, random: new SeededRandom(3) };
  const messenger: ConsensusMessenger = {
    nodeId: 'z',
    send: () => Promise.resolve(),
    request: (_to, topic) =>
      topic.endsWith('/group')
        ? Promise.resolve(encodeCbor({ voters: ['a', 'b', 'c'], leader: 'a' }))
        : Promise.resolve(answers.shift()!),
    respond: () => () => {},
    subscribe: () => () => {},
    members: () => [{ nodeId: 'a', state: 'Active', changedAt: 0 }],
  };
  return new MeshConsensus({ messenger, env, voters: ['a', 'b', 'c'], tickMs: 10 });
}

describe('answers to forwarded calls', () => {
  it('a malformed answer is an unknown outcome; a refusal keeps its code; a good answer its value', async () => {
    const replies = [
      encodeCbor(5),
      encodeCbor({ ok: false, code: 'made-up', hint: '' }),
      Uint8Array.of(0xff),
      encodeCbor({ ok: false, code: 'overloaded', hint: '' }),
      encodeCbor({ ok: true, value: { ok: true, previous: null } }),
    ];
    const c = outsider(replies);
    const put = () => c.propose({ op: 'put', key: 'k', value: 'v' }).catch((e: unknown) => e);
    for (let i = 0; i < 3; i++)
      expect(await put()).toMatchObject({ name: 'ConsensusError', code: 'timeout' });
    expect(await put()).toMatchObject({ name: 'ConsensusError', code: 'overloaded' });
    expect(await put()).toEqual({ ok: true, previous: null });
    c.close();
  });
});
