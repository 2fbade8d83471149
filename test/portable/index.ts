import type { Suite } from './case.ts';
import { identityCases } from './identity.cases.ts';
import { wireCases } from './wire.cases.ts';

export const suites: Record<string, Suite> = {
  identity: identityCases,
  wire: wireCases,
};
