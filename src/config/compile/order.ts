// Code-unit string order: unlike localeCompare it is the same on every machine and locale,
// which the determinism contract (two instances, one config, one snapshot) needs.
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
