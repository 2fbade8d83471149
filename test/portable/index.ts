import type { Suite } from './case.ts';
import { handshakeCases } from './handshake.cases.ts';
import { identityCases } from './identity.cases.ts';
import { membershipRuleCases } from './membership-rules.cases.ts';
import { merkleCases } from './merkle.cases.ts';
import { nodeOptionCases } from './node-options.cases.ts';
import { ringCases } from './ring.cases.ts';
import { simNetworkCases } from './sim-network.cases.ts';
import { stateCases } from './state.cases.ts';
import { storageCases } from './storage.cases.ts';
import { timeCases } from './time.cases.ts';
import { wireCases } from './wire.cases.ts';

export const suites: Record<string, Suite> = {
  identity: identityCases,
  wire: wireCases,
  time: timeCases,
  storage: storageCases,
  handshake: handshakeCases,
  'sim network': simNetworkCases,
  'membership rules': membershipRuleCases,
  merkle: merkleCases,
  ring: ringCases,
  state: stateCases,
  'node options': nodeOptionCases,
};
