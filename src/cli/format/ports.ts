/**
 * `cnm port` output (docker-behaviour.md §1.4): every binding as `80/tcp -> 0.0.0.0:8082`, sorted
 * by the container port as a string; with a port argument only the host side of its bindings.
 */
import type { PortBinding, PortMap } from '../../api/engine-types';
import { CnmError } from '../../errors';
import { compareGoStrings } from './govalue';

/**
 * The host addresses a binding is printed as. An unspecified host IP ("") means every address;
 * Docker reports those as two bindings, 0.0.0.0 then ::, so we print both.
 */
function hostAddresses(b: PortBinding): string[] {
  if (b.HostIp === '') return [`0.0.0.0:${b.HostPort}`, `:::${b.HostPort}`];
  return [`${b.HostIp}:${b.HostPort}`];
}

/** nat.NewPort's check of the port number (strconv.ParseUint(port, 10, 16) for a single port). */
function checkPort(port: string): void {
  if (port === '') throw new CnmError('invalid', 'empty string specified for ports');
  const range = port.split('-');
  for (const p of range.length === 2 ? range : [port]) {
    if (!/^[0-9]+$/.test(p)) throw new CnmError('invalid', `strconv.ParseUint: parsing ${JSON.stringify(p)}: invalid syntax`);
    if (Number(p) > 65535) throw new CnmError('invalid', `strconv.ParseUint: parsing ${JSON.stringify(p)}: value out of range`);
  }
}

/**
 * Formats a container's NetworkSettings.Ports. `requested` is the optional PRIVATE_PORT[/PROTO]
 * argument; `container` names the container in the error. Throws CnmError('notFound') with
 * Docker's full text `Error: No public port '81/tcp' published for p1` (print it as is, exit 1).
 */
export function formatPorts(ports: PortMap | null | undefined, requested: string | undefined, container: string): string {
  const all = ports ?? {};
  if (requested !== undefined) {
    const slash = requested.indexOf('/');
    const port = slash < 0 ? requested : requested.slice(0, slash);
    const proto = slash < 0 || requested.slice(slash + 1) === '' ? 'tcp' : requested.slice(slash + 1);
    checkPort(port);
    const key = `${port}/${proto}`;
    const bindings = all[key];
    if (!bindings) throw new CnmError('notFound', `Error: No public port '${key}' published for ${container}`);
    return bindings.flatMap(hostAddresses).map((a) => `${a}\n`).join('');
  }
  return Object.keys(all)
    .sort(compareGoStrings)
    .flatMap((key) => (all[key] ?? []).flatMap(hostAddresses).map((a) => `${key} -> ${a}\n`))
    .join('');
}
