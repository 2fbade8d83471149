import { encodeProcess } from '../lib/state/values.ts';
import { SeededRandom } from '../lib/time/random.ts';
import { type CborLimits, decodeCbor, encodeCbor } from '../lib/wire/cbor.ts';
import {
  claimBody,
  claimList,
  DEFAULT_WIRE_LIMITS,
  decodeMessage,
  encodeMessage,
  entryBody,
  entryList,
  type Message,
  registry,
  WIRE_VERSION,
  WireError,
} from '../lib/wire/mod.ts';
import { mutate, sampleMessage } from '../test/support/fuzz.ts';
import { legacyDecodeCbor, legacyEncodeCbor } from '../test/support/legacy-cbor.ts';
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
  await cborVersusCborX();

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

type Codec = { encode(v: unknown): Uint8Array; decode(b: Uint8Array, l: CborLimits): unknown };
const weftmesh: Codec = { encode: encodeCbor, decode: decodeCbor };
/** What weftmesh ran before issue 11: cbor-x 1.6.9 behind the strict scan (test/support/legacy-cbor.ts). */
const cborX: Codec = { encode: legacyEncodeCbor, decode: legacyDecodeCbor };
const CLAIM = { maxDepth: 4, maxItems: 32 };
const ENTRY = { maxDepth: 2, maxItems: 16 };
const VALUE = { maxDepth: 3, maxItems: 64 };
const PAGE = { maxFrameBytes: 1 << 20, maxDepth: 16, maxItems: 4096 };

/** The CBOR layer alone, on weftmesh's own messages, against the cbor-x pipeline it replaced. */
async function cborVersusCborX(): Promise<void> {
  const map = Object.fromEntries(Array.from({ length: 1_000 }, (_, i) => [`key-${i}`, i * 7919]));
  const mapBytes = encodeCbor(map);
  const mapLimits = { maxDepth: 1, maxItems: 1_000 };
  const small = typicalSmallMessage();
  const { type: _type, ...smallBody } = small;
  const smallWire = [WIRE_VERSION, registry.ping.code, registry.ping.body.lower(smallBody as never)];
  const smallBytes = encodeCbor(smallWire);
  const claims = (largeStateMessage(1_000).msg as Message & { type: 'claims' }).claims;
  const claim = claimBody.parse(decodeCbor(claims[0]!.b, CLAIM), 'claim');
  const claimsPage = encodeCbor([
    WIRE_VERSION,
    registry.claims.code,
    { seq: 1, reply: true, last: true, claims: claimList(4096).lower(claims) },
  ]);
  // A state-delta page of 512 process advertisements, as StateReplica sends them.
  const withValues = Array.from({ length: 512 }, (_, i) => {
    const v = encodeProcess({
      agentType: 'worker',
      capabilities: ['render', 'transcode'],
      status: 'Running',
      resourceSummary: { cpu: 0.25 + i / 4096, memory: 512 * 1024 * 1024, load: i % 7 },
    });
    const body = { t: 'p', k: `proc-${i}`, w: 1_760_000_000_000 + i, c: i % 3, o: new Uint8Array(16), v };
    return { body, b: encodeCbor(entryBody.parse(body, 'entry')), s: new Uint8Array(64) };
  });
  const body = withValues[0]!.body;
  const deltaPage = encodeCbor([
    WIRE_VERSION,
    registry['state-delta'].code,
    { entries: entryList(512).lower(withValues) },
  ]);

  const pageOfClaims = (c: Codec) => () => {
    const frame = c.decode(claimsPage, PAGE) as [number, number, { claims: Uint8Array }];
    for (const w of claimList(4096).parse(frame[2].claims, 'claims')) c.decode(w.b, CLAIM);
  };
  const pageOfEntries = (c: Codec) => () => {
    const frame = c.decode(deltaPage, PAGE) as [number, number, { entries: Uint8Array }];
    for (const w of entryList(512).parse(frame[2].entries, 'entries')) {
      const e = c.decode(w.b, ENTRY) as { v: Uint8Array };
      c.decode(e.v, VALUE);
    }
  };
  const cases: Array<[string, (c: Codec) => () => unknown]> = [
    ['encode 1,000-entry string→int map', (c) => () => c.encode(map)],
    ['decode 1,000-entry string→int map', (c) => () => c.decode(mapBytes, mapLimits)],
    [`encode ping frame (${smallBytes.length} B)`, (c) => () => c.encode(smallWire)],
    ['decode ping frame', (c) => () => c.decode(smallBytes, DEFAULT_WIRE_LIMITS)],
    [`encode alive claim body (${claims[0]!.b.length} B)`, (c) => () => c.encode(claim)],
    ['decode alive claim body', (c) => () => c.decode(claims[0]!.b, CLAIM)],
    [`encode entry body with process value (${withValues[0]!.b.length} B)`, (c) => () => c.encode(body)],
    [
      'decode entry body + its process value',
      (c) => () => c.decode((c.decode(withValues[0]!.b, ENTRY) as { v: Uint8Array }).v, VALUE),
    ],
    [`decode claims page: frame + 1,000 claim bodies (${fmt(claimsPage.length)} B)`, pageOfClaims],
    [`decode state-delta page: frame + 512 entries + values (${fmt(deltaPage.length)} B)`, pageOfEntries],
  ];
  const rows: Array<Array<string | number>> = [];
  for (const [name, op] of cases) {
    const mine = await rate(name, op(weftmesh));
    const theirs = await rate(name, op(cborX));
    rows.push([name, mine.opsPerSec, theirs.opsPerSec, `${fmt(mine.opsPerSec / theirs.opsPerSec, 2)}×`]);
  }
  table(
    'CBOR layer: weftmesh codec vs cbor-x 1.6.9 + strict scan (what it replaced)',
    ['operation', 'weftmesh ops/s', 'cbor-x ops/s', 'ratio'],
    rows,
  );
}
