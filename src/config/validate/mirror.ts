// VirtualService http[].mirror (with mirrorPercentage, or the deprecated integer mirrorPercent)
// and http[].mirrors[] {destination, percentage}: copies of the request sent to other
// destinations, their answers discarded (worker/upstream/mirror.ts). Istio's rules, as its
// validation (virtualservice.go) and route translation (route.go, MirrorPercent) apply them: a
// percentage from 0 to 100, 100 when absent, an explicit 0 mirrors nothing; mirror and mirrors
// cannot both be set.
import { at, type IssueSink, type Place } from '../issues.js';
import { isAbsent, readInt, readList, readObject } from '../fields.js';
import type { MirrorRes } from '../resources.js';
import { readPercent } from './fault-cors.js';
import { readDestinationTarget } from './route-destination.js';

const ALL = 100; // Istio: "If this field is absent, all the traffic (100%) will be mirrored"

/** The route's mirrors, in order; entries with percentage 0 are left out (they mirror nothing). */
export function readMirrors(sink: IssueSink, place: Place, r: Record<string, unknown>): MirrorRes[] {
  const out: MirrorRes[] = [];
  if (!isAbsent(r.mirror) && !isAbsent(r.mirrors)) {
    sink.error(at(place, 'mirrors'), 'a route cannot set both mirror and mirrors (Istio)');
    return out;
  }
  if (!isAbsent(r.mirror)) {
    const target = readDestinationTarget(sink, at(place, 'mirror'), r.mirror);
    const percent = readSinglePercent(sink, place, r);
    if (target !== null && percent !== null && percent > 0) out.push({ target, percent });
  } else {
    for (const key of ['mirrorPercentage', 'mirrorPercent', 'mirror_percent']) {
      if (!isAbsent(r[key])) sink.warn(at(place, key), 'no mirror: this percentage applies to nothing (mirrors[] take their own percentage)');
    }
  }
  readList(sink, at(place, 'mirrors'), r.mirrors)?.forEach((item, i) => {
    const p = at(place, 'mirrors', i);
    const m = readObject(sink, p, item, { known: ['destination', 'percentage'] });
    if (m === null) {
      if (isAbsent(item)) sink.error(p, 'mirror cannot be null (Istio)');
      return;
    }
    const target = readDestinationTarget(sink, at(p, 'destination'), m.destination);
    const percent = isAbsent(m.percentage) ? ALL : readPercent(sink, at(p, 'percentage'), m.percentage);
    if (target !== null && percent !== null && percent > 0) out.push({ target, percent });
  });
  return out;
}

/** mirrorPercentage {value}, else the deprecated integer mirrorPercent (Istio warns about it); 100 when neither. */
function readSinglePercent(sink: IssueSink, place: Place, r: Record<string, unknown>): number | null {
  if (!isAbsent(r.mirrorPercentage)) return readPercent(sink, at(place, 'mirrorPercentage'), r.mirrorPercentage);
  // the CRD names the deprecated field mirrorPercent, with mirror_percent as its alternative name
  const key = !isAbsent(r.mirrorPercent) ? 'mirrorPercent' : !isAbsent(r.mirror_percent) ? 'mirror_percent' : null;
  if (key === null) return ALL;
  sink.warn(at(place, key), 'deprecated (Istio): use mirrorPercentage {value}');
  return readInt(sink, at(place, key), r[key], 0, 100);
}
