// Gateway: the ports stickyd listens on, the hosts each serves, and how: plain HTTP (optionally
// redirecting to HTTPS) or HTTPS terminated with the server's certificate (gateway-tls.ts).
import { at, type IssueSink, type Place } from '../issues.js';
import { isEmptyList, NOT_IMPLEMENTED, readList, readObject, readPort, readString } from '../fields.js';
import { readHosts } from '../hosts.js';
import type { GatewayRes, GatewayServer } from '../resources.js';
import { readHttpServerTls, readHttpsServerTls, type TlsContext } from './gateway-tls.js';

const SERVER_FIELDS = {
  known: ['port', 'hosts', 'name', 'tls'],
  ignored: {
    bind: 'ignored: stickyd binds every address of the VM',
    defaultEndpoint: NOT_IMPLEMENTED,
  },
};

const PROTOCOLS = ['HTTP', 'HTTPS'] as const;

export function validateGateway(sink: IssueSink, root: Place, name: string, specValue: unknown, ctx: TlsContext): GatewayRes {
  const place = at(root, 'spec');
  const spec = readObject(sink, place, specValue, {
    known: ['servers'],
    ignored: { selector: 'ignored: selects gateway pods on Kubernetes' },
  });
  const servers: GatewayServer[] = [];
  const list = readList(sink, at(place, 'servers'), spec?.servers);
  if (spec !== null && isEmptyList(spec.servers)) sink.error(at(place, 'servers'), 'required: at least one server');
  list?.forEach((item, i) => {
    const server = validateServer(sink, at(place, 'servers', i), item, `${name}/servers[${i}]`, ctx);
    if (server !== null) servers.push(server);
  });
  return { name, place: root, servers };
}

function validateServer(sink: IssueSink, place: Place, value: unknown, defaultLabel: string, ctx: TlsContext): GatewayServer | null {
  const server = readObject(sink, place, value, SERVER_FIELDS);
  if (server === null) {
    if (value === null || value === undefined) sink.error(place, 'empty server');
    return null;
  }
  const portPlace = at(place, 'port');
  const port = readObject(sink, portPlace, server.port, { known: ['number', 'protocol', 'name'], ignored: { targetPort: NOT_IMPLEMENTED } });
  if (port === null) {
    sink.error(portPlace, 'required');
    return null;
  }
  const number = readPort(sink, at(portPlace, 'number'), port.number);
  if (number === null && (port.number === null || port.number === undefined)) sink.error(at(portPlace, 'number'), 'required');
  readString(sink, at(portPlace, 'name'), port.name);
  const serverName = readString(sink, at(place, 'name'), server.name);
  const protocol = readProtocol(sink, at(portPlace, 'protocol'), port.protocol);
  const hosts = readHosts(sink, at(place, 'hosts'), server.hosts, true);
  if (isEmptyList(server.hosts)) sink.error(at(place, 'hosts'), 'required: at least one host');
  let tls = null;
  let httpsRedirect = false;
  if (protocol === 'HTTPS') tls = readHttpsServerTls(sink, at(place, 'tls'), server.tls, ctx);
  else if (protocol === 'HTTP') httpsRedirect = readHttpServerTls(sink, at(place, 'tls'), server.tls);
  const servable = protocol !== null && (protocol === 'HTTP' || tls !== null);
  if (!servable || number === null || hosts.length === 0) return null;
  return { port: number, protocol, hosts, label: serverName !== null && serverName !== '' ? serverName : defaultLabel, tls, httpsRedirect, place };
}

function readProtocol(sink: IssueSink, place: Place, value: unknown): GatewayServer['protocol'] | null {
  const protocol = readString(sink, place, value);
  if (protocol === null) {
    if (value === null || value === undefined) sink.error(place, 'required (HTTP or HTTPS)');
    return null;
  }
  const upper = protocol.toUpperCase();
  if (!(PROTOCOLS as readonly string[]).includes(upper)) {
    sink.error(place, `protocol ${protocol} is not implemented: stickyd serves HTTP and HTTPS (HTTP/1.1 and HTTP/2 over TLS)`);
    return null;
  }
  return upper as GatewayServer['protocol'];
}
