// WorkloadEntry: one VM workload (address, ports, labels) that ServiceEntries select by label.
import { at, type IssueSink, type Place } from '../issues.js';
import { readEndpointSpec } from './endpoint-spec.js';
import type { WorkloadEntryRes } from '../resources.js';

export function validateWorkloadEntry(sink: IssueSink, root: Place, name: string, specValue: unknown): WorkloadEntryRes | null {
  const endpoint = readEndpointSpec(sink, at(root, 'spec'), specValue);
  return endpoint === null ? null : { name, place: root, endpoint };
}
