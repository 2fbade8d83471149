import { SeededRandom } from '../lib/time/random.ts';
import { decodeMessage, encodeMessage, type Message, registry, WireError } from '../lib/wire/mod.ts';
import { mutate, sampleMessage } from '../test/support/fuzz.ts';
import { fmt, rate, rateRows, table } from './harness.ts';
import { largeStateMessage, typicalSmallMessage } from './messages.ts';

/** Encode+decode rates for a small and a 1,000-entry message, then a 1,000,000-frame fuzz run. */
export async function wireBench(): Promise<void> {
  const small = typicalSmallMessage();
  const large = largeStateMessage(1_000);
  const smallBytes = encodeMessage(small);
  const largeBytes = encodeMessage(large.msg, large.limits);
  const rates = [
    await rate(`encode+decode ${small.type} (${smallBytes.length} B)`, () =>
      decodeMessage(encodeMessage(small)),
    ),
    await rate(`encode+decode ${large.msg.type}, 1,000 entries (${fmt(largeBytes.length)} B)`, () =>
      decodeMessage(encodeMessage(large.msg, large.limits), large.limits),
    ),
    await rate(`decode only, ${large.msg.type} 1,000 entries`, () => decodeMessage(largeBytes, large.limits)),
  ];
  table('Wire codec', ['operation', 'ops/s', 'ops'], rateRows(rates));

  const r = new SeededRandom('bench-fuzz');
  const types = Object.keys(registry) as Message['type'][];
  const outcome = { accepted: 0, refused: 0 };
  const codes = new Map<string, number>();
  const start = performance.now();
  for (let i = 0; i < 1_000_000; i++) {
    const bytes =
      i % 5 === 0
        ? r.bytes(r.int(200))
        : mutate(encodeMessage(sampleMessage(types[r.int(types.length)]!, r)), r);
    try {
      decodeMessage(bytes);
      outcome.accepted++;
    } catch (e) {
      if (!(e instanceof WireError)) throw new Error(`fuzz frame ${i} threw a non-WireError: ${String(e)}`);
      outcome.refused++;
      codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
    }
  }
  const ms = performance.now() - start;
  table(
    `Fuzz: 1,000,000 random and mutated frames in ${fmt(ms / 1000, 1)} s, no exception other than WireError`,
    ['outcome', 'frames'],
    [
      ['accepted', outcome.accepted],
      ...[...codes].sort((a, b) => b[1] - a[1]).map(([c, n]) => [`refused: ${c}`, n]),
    ],
  );
}
