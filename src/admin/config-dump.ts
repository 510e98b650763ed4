// GET /config_dump: the compiled snapshot as JSON, so a user sees how stickyd understood their
// Istio YAML: listeners, virtual hosts, routes (with their destinations' subset names), subsets
// with endpoints and policies, and settings. Balancer tables (megabytes of typed arrays) are
// replaced by a summary; PEM text is replaced by the file it came from (no private key leaves
// the snapshot, and certificates are described by /status).
import type { BalancerTable, ListenerServer, Snapshot, UpstreamTls } from '../snapshot/types.js';

/** What the dump shows instead of a secret. */
export const REDACTED = '(redacted)';

export type TableSummary = { readonly kind: 'ring'; readonly points: number } | { readonly kind: 'maglev'; readonly size: number };

export function summarizeTable(table: BalancerTable | null): TableSummary | null {
  if (table === null) return null;
  return table.kind === 'ring' ? { kind: 'ring', points: table.hashes.length } : { kind: 'maglev', size: table.table.length };
}

export function buildConfigDump(snapshot: Snapshot): Record<string, unknown> {
  const subsetName = (i: number): string | null => snapshot.subsets[i]?.name ?? null;
  return {
    generation: snapshot.epoch,
    configPath: snapshot.configPath,
    configHash: snapshot.configHash,
    listeners: snapshot.listeners.map((l) => ({
      ...l,
      // a Gateway server's private key never leaves the daemon: the dump names its file only
      servers: l.servers.map(summarizeServer),
      virtualHosts: l.virtualHosts.map((vh) => ({
        ...vh,
        routes: vh.routes.map((r) => ({
          ...r,
          destinations: r.destinations.map((d) => ({ ...d, subsetName: subsetName(d.subset) })),
          // the rendezvous table is built from the weights and identities shown: summarised
          ...(r.sessionSplit != null ? { sessionSplit: { key: r.sessionSplit.key, decider: r.sessionSplit.decider, table: r.sessionSplit.table === null ? null : { kind: 'rendezvous', destinations: r.sessionSplit.table.salts.length } } } : {}),
          // bytes as base64, the way Istio's directResponse.body.bytes spells them
          ...(r.directResponse != null ? { directResponse: { status: r.directResponse.status, bodyBase64: r.directResponse.body === null ? null : Buffer.from(r.directResponse.body).toString('base64') } } : {}),
        })),
      })),
    })),
    subsets: snapshot.subsets.map((s) => ({ ...s, table: summarizeTable(s.table), tls: summarizeUpstreamTls(s.tls ?? null) })),
    settings: snapshot.settings,
    // the secrets themselves never leave the daemon: only how many keys verify
    ...(snapshot.sessionKeys !== undefined ? { sessionKeys: { count: snapshot.sessionKeys.length } } : {}),
  };
}

function summarizeServer(s: ListenerServer): Record<string, unknown> {
  if (s.tls === null) return { ...s };
  const { certificatePem: _c, privateKeyPem: _k, caPem: _a, ...rest } = s.tls;
  return { ...s, tls: { ...rest, privateKeyPem: REDACTED } };
}

function summarizeUpstreamTls(tls: UpstreamTls | null): Record<string, unknown> | null {
  if (tls === null) return null;
  const { caPem: _a, certificatePem: _c, privateKeyPem, ...rest } = tls;
  return privateKeyPem === null ? rest : { ...rest, privateKeyPem: REDACTED };
}
