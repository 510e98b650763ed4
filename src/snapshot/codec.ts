// The snapshot crosses IPC by structured clone ('advanced' serialization), which keeps typed
// arrays; this module is the one place that knows that, and checks what arrives.
import type { Snapshot } from './types.js';

export function isSnapshot(value: unknown): value is Snapshot {
  if (typeof value !== 'object' || value === null) return false;
  const s = value as Partial<Snapshot>;
  return typeof s.epoch === 'number' && Array.isArray(s.listeners) && Array.isArray(s.subsets) && typeof s.settings === 'object';
}
