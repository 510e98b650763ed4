// http[].fault at request time, as Envoy's fault filter: each part fires on its own draw against
// its percentage; the delay runs first, then the abort.
import type { FaultPlan } from '../../snapshot/types.js';

export interface FaultDecision {
  /** 0 for none */
  readonly delayMs: number;
  /** 0 for none */
  readonly abortStatus: number;
}

export const NO_FAULT: FaultDecision = { delayMs: 0, abortStatus: 0 };

export function decideFault(plan: FaultPlan, random: () => number): FaultDecision {
  const delay = plan.delayMs > 0 && random() * 100 < plan.delayPercent ? plan.delayMs : 0;
  const abort = plan.abortStatus > 0 && random() * 100 < plan.abortPercent ? plan.abortStatus : 0;
  return delay === 0 && abort === 0 ? NO_FAULT : { delayMs: delay, abortStatus: abort };
}
