/**
 * cnm-dns as Podman's aardvark-dns: the real podman 4.3.1 + netavark 1.4 (netavark backend) start
 * it, write its configuration and signal it, in a lab (test/helpers/podman-lab.ts) with private
 * network and mount namespaces. Containers (busybox-static) resolve each other by name and alias,
 * `.dns.podman`, forwarded names (a local stub upstream), see containers come and go, stay on
 * their own networks; the last container's removal stops cnm-dns. Then the default install
 * (`cnm-dns install` into /usr/local/libexec/podman) and `remove` (Podman is back on aardvark-dns).
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import t from 'tap';
import { until } from '../helpers/lab';
import { PodmanLab, REPO } from '../helpers/podman-lab';
import { isLiveProcess } from '../../src/os/proc';
import { parseNetworkFile } from '../../src/podman-dns/config';

const CNM_DNS = path.join(REPO, 'bin', 'cnm-dns');
const GOLDEN = path.join(REPO, 'test', 'unit', 'podman-dns-golden', 'netavark-1.4-dual-stack');

/** Container ids and short ids replaced by their order of appearance: what netavark writes, minus randomness. */
function normalized(text: string): string {
  const ids = new Map<string, string>();
  return text.replace(/\b[0-9a-f]{64}\b|\b[0-9a-f]{12}\b/g, (id) => {
    const long = id.length === 64;
    const key = long ? id.slice(0, 12) : id;
    if (!ids.has(key)) ids.set(key, `c${ids.size}`);
    return `${ids.get(key)}${long ? '-id' : '-short'}`;
  });
}

/** nslookup of each name in one container; per name: its addresses, or null (NXDOMAIN). */
async function lookups(lab: PodmanLab, network: string, names: string[]): Promise<Record<string, string[] | null>> {
  const script = names.map((n) => `echo "== ${n}"; nslookup ${n} || echo NOTFOUND`).join('; ');
  const r = await lab.podman('run', '--rm', '--network', network, 'localhost/bb', 'sh', '-c', script);
  const out: Record<string, string[] | null> = {};
  for (const part of r.out.split('== ').slice(1)) {
    const [name, ...rest] = part.split('\n');
    const body = rest.join('\n');
    const answers = body.split('Non-authoritative answer:').slice(1).join('\n');
    const addresses = [...answers.matchAll(/^Address: (\S+)$/gm)].map((m) => m[1]!);
    // null only for an answer that says so: a timeout is not "not found".
    out[name!.trim()] = /NXDOMAIN/.test(body) && addresses.length === 0 ? null : addresses.length > 0 ? addresses : [`no answer: ${body.trim()}`];
  }
  return out;
}

function isCnmDns(pid: number): boolean {
  return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('podman-dns/main.js');
}

function metrics(pid: number): Promise<string> {
  // The socket lives in the lab's mount namespace: reached through the server's root.
  return new Promise((resolve, reject) => {
    http
      .get({ socketPath: `/proc/${pid}/root/run/containers/networks/cnm-dns.sock`, path: '/metrics' }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

t.test('podman 4.3 + netavark 1.4 with cnm-dns as aardvark-dns', async (t) => {
  const helpers = fs.mkdtempSync('/tmp/cnmpd-helpers-');
  t.teardown(() => fs.rmSync(helpers, { recursive: true, force: true }));
  const lab = await PodmanLab.start({ helperBinariesDir: [helpers, '/usr/lib/podman'] });
  t.teardown(() => lab.close());
  const installed = await lab.sh([CNM_DNS, 'install', '--dir', helpers]);
  t.equal(installed.code, 0, `install --dir: ${installed.err}`);

  t.equal((await lab.podman('network', 'create', '--ipv6', '--subnet', '10.89.1.0/24', '--subnet', 'fd89:1::/64', 'n1')).code, 0);
  t.equal((await lab.podman('network', 'create', '--subnet', '10.89.2.0/24', 'n2')).code, 0);
  const web = await lab.podman('run', '-d', '--name', 'web', '--network', 'n1', '--network-alias', 'www', 'localhost/bb', 'sleep', '1000');
  t.equal(web.code, 0, `run web: ${web.err}`);

  const pid = await lab.serverPid();
  t.ok(pid !== null && isCnmDns(pid), 'netavark started cnm-dns (aardvark.pid names it)');
  const written = (await lab.read(`${lab.aardvarkDir}/n1`)) ?? '';
  t.equal(normalized(written), normalized(fs.readFileSync(GOLDEN, 'utf8')), 'netavark writes what the golden file holds');
  t.same(parseNetworkFile('n1', written).problems, [], 'and the parser takes it');

  t.equal((await lab.podman('run', '-d', '--name', 'db', '--network', 'n2', 'localhost/bb', 'sleep', '1000')).code, 0);
  t.equal((await lab.podman('run', '-d', '--name', 'both', '--network', 'n1', '--network', 'n2', 'localhost/bb', 'sleep', '1000')).code, 0);
  t.equal(await lab.serverPid(), pid, 'one server for every network (SIGHUP, no new process)');

  const fromN1 = await lookups(lab, 'n1', ['web', 'www', 'web.dns.podman', 'both', 'f1.fwd.example', 'db', 'nope.dns.podman']);
  t.same(fromN1.web, ['10.89.1.2', 'fd89:1::2'], 'name: A and AAAA');
  t.same(fromN1.www, ['10.89.1.2', 'fd89:1::2'], 'alias');
  t.same(fromN1['web.dns.podman'], ['10.89.1.2', 'fd89:1::2'], 'name.dns.podman');
  t.same(fromN1.both, ['10.89.1.3', 'fd89:1::3'], 'a container on two networks, its n1 addresses');
  t.same(fromN1['f1.fwd.example'], ['192.0.2.1'], 'forwarded to the upstream (stub)');
  t.equal(fromN1.db, null, 'a container on n2 is not visible from n1');
  t.equal(fromN1['nope.dns.podman'], null, 'unknown .dns.podman name: NXDOMAIN');

  const fromN2 = await lookups(lab, 'n2', ['db', 'web', 'both']);
  t.same(fromN2.db, ['10.89.2.2'], 'n2 names on n2');
  t.equal(fromN2.web, null, 'n1 names are not visible from n2');
  t.same(fromN2.both, ['10.89.2.3'], 'both, its n2 address');

  const fromBoth = await lab.podman('exec', 'both', 'sh', '-c', 'nslookup web; nslookup db');
  t.match(fromBoth.out, /Address: 10\.89\.1\.2[\s\S]*Address: 10\.89\.2\.2/, 'a container on two networks sees both');

  // TCP and EDNS on the IPv4 and IPv6 gateways, asked from the host (no container: the network's view).
  const tcp = await lab.sh(['dig', '+tcp', '+time=2', '+tries=1', '@10.89.1.1', 'web.dns.podman']);
  t.match(tcp.out, /status: NOERROR[\s\S]*EDNS: version: 0[\s\S]*web\.dns\.podman\.\s+86400\s+IN\s+A\s+10\.89\.1\.2/, 'TCP with EDNS on the v4 gateway');
  const v6 = await until(async () => {
    const r = await lab.sh(['dig', '+time=1', '+tries=1', '@fd89:1::1', 'www', 'AAAA']);
    return /fd89:1::2/.test(r.out) && r.out;
  }, 10_000, 'an answer on the IPv6 gateway');
  t.ok(v6.value, 'UDP on the v6 gateway');
  const ptr = await lab.sh(['dig', '+short', '+time=2', '+tries=1', '@10.89.1.1', '-x', '10.89.1.2']);
  t.equal(ptr.out.trim(), 'web.dns.podman.', 'PTR');

  // Containers come and go: netavark rewrites the file and sends SIGHUP; the next query sees it.
  t.equal((await lab.podman('run', '-d', '--name', 'late', '--network', 'n1', 'localhost/bb', 'sleep', '1000')).code, 0);
  const late = (await lab.podman('inspect', '-f', '{{.NetworkSettings.Networks.n1.IPAddress}}', 'late')).out.trim();
  t.same((await lookups(lab, 'n1', ['late'])).late?.[0], late, 'a new container resolves at once');
  t.equal((await lab.podman('rm', '-f', '-t', '0', 'late')).code, 0);
  t.equal((await lookups(lab, 'n1', ['late'])).late, null, 'a removed container is gone at once');

  const text = await metrics(pid!);
  t.match(text, /cnm_dns_queries_total\{type="A",rcode="NOERROR",source="local"\} [1-9]/, 'metrics: local answers');
  t.match(text, /cnm_dns_queries_total\{type="A",rcode="NOERROR",source="upstream"\} [1-9]/, 'metrics: forwarded answers');

  t.equal((await lab.podman('rm', '-f', '-t', '0', 'web', 'db', 'both')).code, 0);
  await until(async () => (await lab.serverPid()) === null, 10_000, 'cnm-dns to exit');
  t.pass('the last container removed: cnm-dns exited');
  t.equal(await lab.read(`${lab.aardvarkDir}/aardvark.pid`), null, 'and removed its pid file');
  t.notOk(isLiveProcess(pid!), 'the process is gone');

  // The default install: Podman's own helper_binaries_dir list, /usr/local/libexec/podman first
  // (private to the lab). remove brings Debian's aardvark-dns back.
  lab.configure({});
  const inst = await lab.sh([CNM_DNS, 'install']);
  t.equal(inst.code, 0, `install: ${inst.err}`);
  t.match(inst.out, /\/usr\/local\/libexec\/podman\/aardvark-dns -> /);
  t.equal((await lab.podman('run', '-d', '--name', 'a1', '--network', 'n1', 'localhost/bb', 'sleep', '1000')).code, 0);
  const installedPid = await lab.serverPid();
  t.ok(installedPid !== null && isCnmDns(installedPid), 'Podman found cnm-dns by its default list');
  const a1 = (await lab.podman('inspect', '-f', '{{.NetworkSettings.Networks.n1.IPAddress}}', 'a1')).out.trim();
  t.same((await lookups(lab, 'n1', ['a1'])).a1?.[0], a1, 'and it answers');
  t.equal((await lab.podman('rm', '-f', '-t', '0', 'a1')).code, 0);
  await until(async () => (await lab.serverPid()) === null, 10_000, 'cnm-dns to exit');
  const rm = await lab.sh([CNM_DNS, 'remove']);
  t.equal(rm.code, 0, `remove: ${rm.err}`);
  t.equal((await lab.podman('run', '-d', '--name', 'a2', '--network', 'n1', 'localhost/bb', 'sleep', '1000')).code, 0);
  const aardvarkPid = await lab.serverPid();
  t.ok(aardvarkPid !== null && fs.readlinkSync(`/proc/${aardvarkPid}/exe`) === '/usr/lib/podman/aardvark-dns', 'after remove: Debian aardvark-dns again');
});
