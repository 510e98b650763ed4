// One RawDoc -> one validated resource, by kind. Checks what every resource shares (apiVersion,
// kind, metadata.name, unique names per kind) and hands spec to the kind's validator.
import { at, describePlace, type IssueSink, type Place } from '../issues.js';
import { isAbsent, readObject, requireString } from '../fields.js';
import type { RawDoc } from '../parse.js';
import type { Resources } from '../resources.js';
import { validateGateway } from './gateway.js';
import type { TlsContext } from './gateway-tls.js';
import { validateVirtualService } from './virtual-service.js';
import { validateDestinationRule } from './destination-rule.js';
import { validateServiceEntry } from './service-entry.js';
import { validateWorkloadEntry } from './workload-entry.js';
import { readMetadata, type Metadata } from './metadata.js';

const GROUP = 'networking.istio.io';
const VERSIONS = ['v1alpha3', 'v1beta1', 'v1'];
const KINDS = ['Gateway', 'VirtualService', 'DestinationRule', 'ServiceEntry', 'WorkloadEntry'] as const;
type Kind = (typeof KINDS)[number];

const TOP_FIELDS = { known: ['apiVersion', 'kind', 'metadata', 'spec'], ignored: { status: 'ignored: written by Kubernetes, not by users' } };
const METADATA_FIELDS = {
  known: ['name', 'namespace', 'labels', 'annotations'],
  ignored: Object.fromEntries(
    ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields', 'generateName'].map((k) => [k, 'ignored: written by Kubernetes']),
  ),
};

export function validateDocs(docs: readonly RawDoc[], sink: IssueSink, ctx: TlsContext = { credentialsDir: null }): Resources {
  const res = emptyResources();
  const seen = new Map<string, Place>();
  for (const doc of docs) {
    const root: Place = { doc: doc.ref, path: [] };
    const kind = classify(sink, root, doc.body.apiVersion, doc.body.kind);
    if (kind === null) continue;
    readObject(sink, root, doc.body, TOP_FIELDS);
    const meta = readObject(sink, at(root, 'metadata'), doc.body.metadata, METADATA_FIELDS);
    const name = requireString(sink, at(root, 'metadata', 'name'), meta?.name);
    if (isAbsent(doc.body.spec)) sink.error(at(root, 'spec'), 'required');
    if (name === null || isAbsent(doc.body.spec)) continue;
    const first = seen.get(`${kind}/${name}`);
    if (first !== undefined) {
      sink.error(at(root, 'metadata', 'name'), `duplicate ${kind} "${name}": also defined at ${describePlace(first)}`);
      // still validated, so its own problems show in the same run, but never compiled
      addResource(emptyResources(), sink, kind, root, name, doc.body.spec, ctx, readMetadata(sink, at(root, 'metadata'), meta));
      continue;
    }
    seen.set(`${kind}/${name}`, at(root, 'metadata', 'name'));
    addResource(res, sink, kind, root, name, doc.body.spec, ctx, readMetadata(sink, at(root, 'metadata'), meta));
  }
  return res;
}

type MutableResources = { -readonly [K in keyof Resources]: Resources[K][number][] };

function emptyResources(): MutableResources {
  return { gateways: [], virtualServices: [], destinationRules: [], serviceEntries: [], workloadEntries: [] };
}

function addResource(res: MutableResources, sink: IssueSink, kind: Kind, root: Place, name: string, spec: unknown, ctx: TlsContext, meta: Metadata): void {
  switch (kind) {
    case 'Gateway':
      res.gateways.push(validateGateway(sink, root, name, spec, ctx));
      return;
    case 'VirtualService':
      res.virtualServices.push(validateVirtualService(sink, root, name, spec));
      return;
    case 'DestinationRule': {
      const dr = validateDestinationRule(sink, root, name, spec, ctx, meta);
      if (dr !== null) res.destinationRules.push(dr);
      return;
    }
    case 'ServiceEntry':
      res.serviceEntries.push(validateServiceEntry(sink, root, name, spec, meta));
      return;
    case 'WorkloadEntry': {
      const we = validateWorkloadEntry(sink, root, name, spec);
      if (we !== null) res.workloadEntries.push(we);
      return;
    }
  }
}

/** The kind to validate, or null when the document is not ours (warned) or unusable (error). */
function classify(sink: IssueSink, root: Place, apiVersion: unknown, kind: unknown): Kind | null {
  const k = requireString(sink, at(root, 'kind'), kind);
  const api = requireString(sink, at(root, 'apiVersion'), apiVersion);
  if (k === null || api === null) return null;
  const [group, version] = api.includes('/') ? api.split('/', 2) : ['', api];
  if (group !== GROUP) {
    sink.warn(root, `kind ${k} is not an Istio networking resource; ignored (apiVersion ${api})`);
    return null;
  }
  if (!VERSIONS.includes(version ?? '')) {
    sink.error(at(root, 'apiVersion'), `unsupported version "${api}": use ${VERSIONS.map((v) => `${GROUP}/${v}`).join(', ')}`);
    return null;
  }
  if (!(KINDS as readonly string[]).includes(k)) {
    sink.warn(root, `kind ${k} is not implemented by stickyd; ignored`);
    return null;
  }
  return k as Kind;
}
