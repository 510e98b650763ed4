// Gateway: the ports stickyd listens on and the hosts each serves. Only plain HTTP servers are
// implemented; TLS termination is not, and saying so beats serving HTTPS hosts as cleartext.
import { at, type IssueSink, type Place } from '../issues.js';
import { isEmptyList, NOT_IMPLEMENTED, readList, readObject, readPort, readString } from '../fields.js';
import { readHosts } from '../hosts.js';
import type { GatewayRes, GatewayServer } from '../resources.js';

const SERVER_FIELDS = {
  known: ['port', 'hosts', 'name'],
  ignored: {
    tls: NOT_IMPLEMENTED,
    bind: 'ignored: stickyd binds every address of the VM',
    defaultEndpoint: NOT_IMPLEMENTED,
  },
};

export function validateGateway(sink: IssueSink, root: Place, name: string, specValue: unknown): GatewayRes {
  const place = at(root, 'spec');
  const spec = readObject(sink, place, specValue, {
    known: ['servers'],
    ignored: { selector: 'ignored: selects gateway pods on Kubernetes' },
  });
  const servers: GatewayServer[] = [];
  const list = readList(sink, at(place, 'servers'), spec?.servers);
  if (spec !== null && isEmptyList(spec.servers)) sink.error(at(place, 'servers'), 'required: at least one server');
  list?.forEach((item, i) => {
    const server = validateServer(sink, at(place, 'servers', i), item);
    if (server !== null) servers.push(server);
  });
  return { name, place: root, servers };
}

function validateServer(sink: IssueSink, place: Place, value: unknown): GatewayServer | null {
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
  const protocol = readString(sink, at(portPlace, 'protocol'), port.protocol);
  let servable = true;
  if (protocol === null) {
    if (port.protocol === null || port.protocol === undefined) sink.error(at(portPlace, 'protocol'), 'required (HTTP)');
    servable = false;
  } else if (protocol.toUpperCase() !== 'HTTP') {
    sink.error(at(portPlace, 'protocol'), `protocol ${protocol} is not implemented: stickyd serves plain HTTP only`);
    servable = false;
  }
  const hosts = readHosts(sink, at(place, 'hosts'), server.hosts, true);
  if (isEmptyList(server.hosts)) sink.error(at(place, 'hosts'), 'required: at least one host');
  return servable && number !== null && hosts.length > 0 ? { port: number, hosts, place } : null;
}
