// What the kernel offers its callers, apart from how it is loaded (kernel.ts) or laid out in
// memory (instance.ts): both of those import these, and these import nothing of theirs.
import type { Subset } from '../snapshot/types.js';

export interface KernelLookup {
  /** Index into subsets[subsetId].endpoints; only for subsets with a table (throws STICKYD_ERR_BUILD otherwise). */
  select(subsetId: number, hash: number): number;
}

export interface Kernel {
  /** Copies every table into a fresh instance's memory, so a snapshot's lookup never changes. Sync. */
  load(subsets: readonly Subset[]): KernelLookup;
}
