/**
 * The controller in-process, on a fake kernel, with a driver and an OS that fail at a chosen
 * step (libnetwork's badDriver idea, test/helpers/fake-kernel.ts). For every step of network
 * create and remove, sandbox create and remove, connect and disconnect:
 *  - a failure there leaves the records, the in-memory state, IPAM, the journal and the kernel
 *    exactly as before, and the same operation then succeeds;
 *  - a crash just before it (the kernel and the store copied as they were) is repaired by the
 *    next start: no journal entry left, the records as before or as after the operation, the
 *    kernel and IPAM matching the records.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { Controller } from '../../src/controller/controller';
import { ownNetnsPath } from '../../src/controller/context';
import { DriverRegistry } from '../../src/drivers/registry';
import { Ipam } from '../../src/ipam';
import type { Logger } from '../../src/log';
import type { StoreTx } from '../../src/store/sqlite';
import { SqliteStore } from '../../src/store/sqlite';
import { DOCKER_NETWORK_LABEL } from '../../src/controller/handoffs';
import { DAEMON_NS, FakeDriver, FakeKernel, Faults, InjectedFailure, fakeOs } from '../helpers/fake-kernel';

class FaultyStore extends SqliteStore {
  constructor(
    rootDir: string,
    private readonly faults: Faults,
  ) {
    super(rootDir);
  }
  override beginJournal(entry: unknown): number {
    this.faults.step('store.beginJournal');
    return super.beginJournal(entry);
  }
  override transaction(fn: (tx: StoreTx) => void): void {
    this.faults.step('store.transaction');
    super.transaction(fn);
  }
}

interface LogLine {
  level: string;
  msg: string;
  fields?: Record<string, unknown>;
}

function collectingLogger(lines: LogLine[]): Logger {
  const logger: Logger = { log: (level, msg, fields) => void lines.push({ level, msg, ...(fields ? { fields } : {}) }), child: () => logger };
  return logger;
}

const ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'cnm-ctrl-faults-'));
t.teardown(() => fs.rmSync(ROOT, { recursive: true, force: true }));
let worlds = 0;

/** One daemon's worth: a kernel, a store, IPAM and a controller on them. */
class World {
  readonly faults = new Faults();
  readonly logs: LogLine[] = [];
  kernel = new FakeKernel();
  readonly execRoot: string;
  store!: FaultyStore;
  ipam!: Ipam;
  ctl!: Controller;

  constructor(readonly dir = path.join(ROOT, `w${worlds++}`)) {
    this.execRoot = path.join(dir, 'exec');
  }

  /** Starts (or restarts, on what a crash left) the controller. */
  async start(storeDir = path.join(this.dir, 'store')): Promise<void> {
    this.store = new FaultyStore(storeDir, this.faults);
    this.ipam = new Ipam();
    const drivers = new DriverRegistry();
    const kernel = (): FakeKernel => this.kernel;
    drivers.register(new FakeDriver({ name: 'fake', predefinedNetwork: { name: 'fake-default', default: true }, gatewayBridgeNetwork: { name: 'fake-gw' } }, kernel, this.faults));
    drivers.register(new FakeDriver({ name: 'fake-overlay', needsGatewayBridge: true, noGateway: true }, kernel, this.faults));
    this.ctl = new Controller({
      store: this.store,
      ipam: this.ipam,
      drivers,
      execRoot: this.execRoot,
      hostResolv: () => ({ nameservers: ['192.0.2.53'], search: [], options: [] }),
      log: collectingLogger(this.logs),
      os: fakeOs(kernel, this.faults),
    });
    await this.ctl.start();
    this.faults.reset();
  }

  close(): void {
    this.store.close();
  }

  records(): unknown {
    const stored = this.store.load();
    const byId = <T extends { id: string }>(xs: T[]): T[] => [...xs].sort((a, b) => a.id.localeCompare(b.id));
    return { networks: byId(stored.networks), sandboxes: byId(stored.sandboxes), endpoints: byId(stored.endpoints), ipamCursor: this.store.getMeta('ipamCursor') };
  }

  recordsAsState(): unknown {
    const r = this.records() as { networks: unknown; sandboxes: unknown; endpoints: unknown };
    return { networks: r.networks, sandboxes: r.sandboxes, endpoints: r.endpoints };
  }

  stateView(): unknown {
    const byId = <T extends { id: string }>(xs: Iterable<T>): T[] => [...xs].sort((a, b) => a.id.localeCompare(b.id));
    const s = this.ctl.state;
    return { networks: byId(s.networks.values()), sandboxes: byId(s.sandboxes.values()), endpoints: byId(s.endpoints.values()) };
  }

  view(): Record<string, unknown> {
    return { records: this.records(), state: this.stateView(), ipam: ipamView(this.ipam), journal: this.store.pendingJournal(), kernel: this.kernel.view(), files: this.sandboxDirs() };
  }

  /** The sandboxes that have a directory of files (resolv.conf, hosts, hostname). */
  sandboxDirs(): string[] {
    const dir = path.join(this.execRoot, 'sandboxes');
    return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
  }

  /** Namespaces a container runtime made (CNI): theirs, there whatever cnm does. */
  readonly runtimeNamespaces: string[] = [];

  /** A runtime's namespace for the CNI attach, made outside the controller. */
  runtimeNamespace(name: string): string {
    const nsPath = path.join(this.dir, `runtime-${name}`);
    fs.mkdirSync(this.dir, { recursive: true });
    fs.writeFileSync(nsPath, '');
    this.kernel.namespaces.set(nsPath, { interfaces: new Map([['lo', { addresses: ['127.0.0.1/8'], up: true }]]), routes: [] });
    this.runtimeNamespaces.push(nsPath);
    return nsPath;
  }

  /**
   * What the kernel must hold for the records: a namespace per own sandbox and per runtime
   * namespace, with its endpoints' interfaces; a network per record; a veth per endpoint.
   */
  expectedKernel(): unknown {
    const stored = this.store.load();
    const interfacesOf = (ids: string[]): string[] => ['lo', ...stored.endpoints.filter((e) => ids.includes(e.sandboxId) && e.ifName).map((e) => e.ifName)].sort();
    const own = stored.sandboxes.filter((s) => s.mode.kind === 'own').map((s) => ({ path: ownNetnsPath(this.execRoot, s.id), interfaces: interfacesOf([s.id]) }));
    const runtime = this.runtimeNamespaces.map((p) => ({
      path: p,
      interfaces: interfacesOf(stored.sandboxes.filter((s) => s.mode.kind === 'attached' && s.mode.nsPath === p).map((s) => s.id)),
    }));
    // The daemon's namespace holds the interfaces of Docker endpoints until dockerd moves them.
    const daemon = { path: DAEMON_NS, interfaces: interfacesOf(stored.sandboxes.filter((s) => s.mode.kind === 'handoff').map((s) => s.id)) };
    const namespaces = [...own, ...runtime, daemon].sort((a, b) => a.path.localeCompare(b.path));
    return { namespaces, networks: stored.networks.map((n) => n.id).sort(), veths: stored.endpoints.filter((e) => e.ifName).map((e) => e.id).sort() };
  }

  actualKernel(): unknown {
    const k = this.kernel;
    return {
      namespaces: [...k.namespaces].map(([p, ns]) => ({ path: p, interfaces: [...ns.interfaces.keys()].sort() })).sort((a, b) => a.path.localeCompare(b.path)),
      networks: [...k.networks].sort(),
      veths: [...k.veths.keys()].sort(),
    };
  }

  /** Errors logged about undo steps that failed: none may happen when only one step fails. */
  undoFailures(): LogLine[] {
    return this.logs.filter((l) => l.msg.startsWith('could not undo'));
  }
}

/**
 * IPAM's whole state, comparable: its maps and sets as sorted lists, its sorted address lists
 * up to their length (the typed array's spare room is not state), without the memory a new
 * network keeps to undo its cursor move (not restored at start: a stored network is never aborted).
 */
function ipamView(ipam: Ipam): unknown {
  return JSON.parse(
    JSON.stringify(ipam, (key, value: unknown) => {
      if (key === 'cursorMove') return undefined;
      if (value && typeof value === 'object' && 'data' in value && 'length' in value && ArrayBuffer.isView((value as { data: unknown }).data)) {
        const list = value as { data: Float64Array | BigInt64Array; length: number };
        return Array.from(list.data.subarray(0, list.length), String);
      }
      if (value instanceof Map) return [...value].sort(([a], [b]) => String(a).localeCompare(String(b)));
      if (value instanceof Set) return [...value].map(String).sort();
      if (typeof value === 'bigint') return value.toString();
      return value;
    }),
  );
}

const DOCKER_NETWORK = 'd'.repeat(64);
const DOCKER_ENDPOINT = 'e'.repeat(64);

interface Scenario {
  name: string;
  setup(w: World): Promise<void>;
  op(w: World): Promise<unknown>;
}

const SCENARIOS: Scenario[] = [
  {
    name: 'network create',
    setup: async () => {},
    op: (w) => w.ctl.createNetwork({ name: 'n1', ipamConfig: [{ subnet: '10.91.0.0/24' }, { subnet: 'fd91::/64' }], enableIPv6: true }),
  },
  {
    name: 'network remove',
    setup: async (w) => void (await w.ctl.createNetwork({ name: 'n1' })),
    op: (w) => w.ctl.removeNetwork('n1'),
  },
  {
    name: 'sandbox create',
    setup: async (w) => {
      await w.ctl.createNetwork({ name: 'n1' });
      await w.ctl.createNetwork({ name: 'n2', ipamConfig: [{ subnet: '10.92.0.0/24' }, { subnet: 'fd92::/64' }], enableIPv6: true });
    },
    op: (w) => w.ctl.createSandbox({ name: 's1', networkMode: 'n1', endpoints: { n2: { ipv4: '10.92.0.7', aliases: ['db'] } } }),
  },
  {
    name: 'sandbox remove',
    setup: async (w) => {
      await w.ctl.createNetwork({ name: 'n1' });
      await w.ctl.createNetwork({ name: 'n2' });
      await w.ctl.createSandbox({ name: 's1', networkMode: 'n1', endpoints: { n2: {} } });
    },
    op: (w) => w.ctl.removeSandbox('s1'),
  },
  {
    name: 'connect',
    setup: async (w) => {
      await w.ctl.createNetwork({ name: 'n1' });
      await w.ctl.createNetwork({ name: 'n2' });
      await w.ctl.createSandbox({ name: 's1', networkMode: 'n1' });
    },
    op: (w) => w.ctl.connect('n2', 's1', { aliases: ['web'] }),
  },
  {
    name: 'disconnect',
    setup: async (w) => {
      await w.ctl.createNetwork({ name: 'n1' });
      await w.ctl.createNetwork({ name: 'n2' });
      await w.ctl.createSandbox({ name: 's1', networkMode: 'n1', endpoints: { n2: {} } });
    },
    op: (w) => w.ctl.disconnect('n2', 's1', false),
  },
  {
    name: 'disconnect from the network carrying the default route',
    setup: async (w) => {
      await w.ctl.createNetwork({ name: 'n1' });
      await w.ctl.createNetwork({ name: 'n2' });
      await w.ctl.createSandbox({ name: 's1', networkMode: 'n1', endpoints: { n2: {} } });
    },
    op: (w) => w.ctl.disconnect('n1', 's1', false),
  },
  {
    name: 'CNI attach',
    setup: async (w) => {
      await w.ctl.createNetwork({ name: 'n1' });
      w.runtimeNamespace('c1');
    },
    op: (w) => w.ctl.attach({ network: 'n1', containerId: 'c1', ifName: 'eth0', nsPath: w.runtimeNamespaces[0]!, name: 'c1', aliases: ['app'], publish: [] }),
  },
  {
    name: 'CNI detach',
    setup: async (w) => {
      await w.ctl.createNetwork({ name: 'n1' });
      const nsPath = w.runtimeNamespace('c1');
      await w.ctl.attach({ network: 'n1', containerId: 'c1', ifName: 'eth0', nsPath, name: 'c1', aliases: [], publish: [] });
    },
    op: (w) => w.ctl.detach('n1', 'c1', 'eth0'),
  },
  {
    name: 'Docker endpoint create',
    setup: async (w) => void (await w.ctl.createNetwork({ name: 'd1', labels: { [DOCKER_NETWORK_LABEL]: DOCKER_NETWORK } })),
    op: (w) => w.ctl.createHandoff({ dockerNetworkId: DOCKER_NETWORK, dockerEndpointId: DOCKER_ENDPOINT }),
  },
  {
    name: 'Docker endpoint delete',
    setup: async (w) => {
      await w.ctl.createNetwork({ name: 'd1', labels: { [DOCKER_NETWORK_LABEL]: DOCKER_NETWORK } });
      await w.ctl.createHandoff({ dockerNetworkId: DOCKER_NETWORK, dockerEndpointId: DOCKER_ENDPOINT });
    },
    op: (w) => w.ctl.deleteHandoff(DOCKER_ENDPOINT),
  },
];

async function world(s: Scenario): Promise<World> {
  const w = new World();
  await w.start();
  await s.setup(w);
  w.faults.reset();
  return w;
}

for (const s of SCENARIOS) {
  t.test(`${s.name}: a failure at any step leaves everything as before`, async (t) => {
    const dry = await world(s);
    await s.op(dry);
    const steps = [...dry.faults.names];
    dry.close();
    t.ok(steps.length >= 3, `${s.name} has steps to fail (${steps.length}: ${steps.join('; ')})`);
    for (const [i, name] of steps.entries()) {
      const w = await world(s);
      const before = w.view();
      w.faults.failAt = i;
      await t.rejects(s.op(w), { message: /injected failure/ }, `step ${i} (${name}) fails the operation`);
      t.same(w.view(), before, `after a failure at step ${i} (${name}): records, state, IPAM, journal and kernel as before`);
      t.same(w.undoFailures(), [], `step ${i}: every undo step succeeded`);
      w.faults.reset();
      await t.resolves(s.op(w), `step ${i}: the operation succeeds when tried again`);
      w.close();
    }
  });

  t.test(`${s.name}: a crash at any step is repaired by the next start`, async (t) => {
    const dry = await world(s);
    await s.op(dry);
    const steps = [...dry.faults.names];
    dry.close();
    for (const [i, name] of steps.entries()) {
      const w = await world(s);
      const before = { records: w.records(), ipam: ipamView(w.ipam) };
      let crash: { kernel: FakeKernel; storeDir: string; execDir: string } | undefined;
      w.faults.onCrashPoint = (n) => {
        if (n !== i) return;
        // What a kill -9 just before this step leaves: the kernel, the store's files, the sandbox files.
        const storeDir = path.join(w.dir, `crash-store`);
        const execDir = path.join(w.dir, `crash-exec`);
        fs.cpSync(path.join(w.dir, 'store'), storeDir, { recursive: true, filter: (src) => !src.endsWith('-shm') });
        if (fs.existsSync(w.execRoot)) fs.cpSync(w.execRoot, execDir, { recursive: true });
        crash = { kernel: w.kernel.clone(), storeDir, execDir };
      };
      await s.op(w);
      const after = { records: w.records(), ipam: ipamView(w.ipam) };
      w.close();
      if (!crash) {
        t.fail(`step ${i} (${name}) was not reached`);
        continue;
      }
      // The next daemon: the same paths, the kernel and the files as the crash left them.
      const next = new World(w.dir);
      next.kernel = crash.kernel;
      next.runtimeNamespaces.push(...w.runtimeNamespaces);
      fs.rmSync(w.execRoot, { recursive: true, force: true });
      if (fs.existsSync(crash.execDir)) fs.cpSync(crash.execDir, w.execRoot, { recursive: true });
      await next.start(crash.storeDir);
      t.same(next.store.pendingJournal(), [], `crash at step ${i} (${name}): no journal entry left`);
      const records = next.records();
      const asBefore = JSON.stringify(records) === JSON.stringify(before.records);
      const asAfter = JSON.stringify(records) === JSON.stringify(after.records);
      t.ok(asBefore || asAfter, `crash at step ${i} (${name}): the records are as before or as after the operation`);
      t.same(next.actualKernel(), next.expectedKernel(), `crash at step ${i} (${name}): the kernel matches the records`);
      t.same(next.sandboxDirs(), next.store.load().sandboxes.map((x) => x.id).sort(), `crash at step ${i} (${name}): files for the recorded sandboxes only`);
      t.same(ipamView(next.ipam), asAfter ? after.ipam : before.ipam, `crash at step ${i} (${name}): IPAM matches the records`);
      t.same(next.stateView(), next.recordsAsState(), `crash at step ${i} (${name}): the in-memory state mirrors the records`);
      next.close();
      fs.rmSync(crash.storeDir, { recursive: true, force: true });
      fs.rmSync(crash.execDir, { recursive: true, force: true });
    }
  });
}

t.test('connect to a network that needs the gateway bridge: all or nothing, the gateway bridge join included', async (t) => {
  const setup = async (w: World): Promise<void> => {
    await w.ctl.createNetwork({ name: 'n1' });
    await w.ctl.createNetwork({ name: 'ov', driver: 'fake-overlay' });
    await w.ctl.createSandbox({ name: 's1', networkMode: 'n1' });
  };
  const dry = new World();
  await dry.start();
  await setup(dry);
  dry.faults.reset();
  await dry.ctl.connect('ov', 's1', {});
  const steps = [...dry.faults.names];
  t.ok(dry.ctl.state.endpointOf(dry.ctl.network('fake-gw').id, dry.ctl.sandbox('s1').id), 'the sandbox is on the gateway bridge too');
  dry.close();
  const gwJoin = steps.findIndex((n) => n.startsWith('fake.join fake-gw'));
  t.ok(gwJoin > 0, 'the gateway bridge join is a step of connect');

  const w = new World();
  await w.start();
  await setup(w);
  const endpointsBefore = w.ctl.endpointsOf(w.ctl.sandbox('s1')).map((e) => e.id);
  const sandboxBefore = w.ctl.sandbox('s1');
  w.faults.reset();
  w.faults.failAt = gwJoin;
  await t.rejects(w.ctl.connect('ov', 's1', {}), { message: /injected failure/ }, 'the gateway bridge join failing fails the connect');
  t.same(w.ctl.endpointsOf(w.ctl.sandbox('s1')).map((e) => e.id), endpointsBefore, 'the sandbox is not left connected to the overlay network');
  t.same(w.ctl.sandbox('s1'), sandboxBefore, 'the sandbox record is as before');
  t.same(w.store.load().endpoints.map((e) => e.id).sort(), [...endpointsBefore].sort(), 'nor is its record');
  t.same(w.actualKernel(), w.expectedKernel(), 'the kernel holds nothing of the connect');
  t.same(w.store.pendingJournal(), [], 'no journal entry left');
  w.close();
});

t.test('an undo step that fails is logged with what it left, and the journal entry stays for the next start', async (t) => {
  const w = new World();
  await w.start();
  await w.ctl.createNetwork({ name: 'n1' });
  await w.ctl.createSandbox({ name: 's1', networkMode: 'n1' });
  w.faults.reset();
  // The commit fails; then the leave that undoes the join fails too.
  const dry = new World();
  await dry.start();
  await dry.ctl.createNetwork({ name: 'n1' });
  await dry.ctl.createNetwork({ name: 'n2' });
  await dry.ctl.createSandbox({ name: 's1', networkMode: 'n1' });
  dry.faults.reset();
  await dry.ctl.connect('n2', 's1', {});
  const commit = dry.faults.names.lastIndexOf('store.transaction');
  dry.close();
  await w.ctl.createNetwork({ name: 'n2' });
  w.faults.reset();
  const failing = new Set([commit]);
  const step = w.faults.step.bind(w.faults);
  w.faults.step = (name: string): void => {
    if (name.startsWith('fake.leave')) failing.add(w.faults.count);
    if (failing.has(w.faults.count)) {
      w.faults.count++;
      w.faults.names.push(name);
      throw new InjectedFailure(`injected failure (${name})`);
    }
    step(name);
  };
  await t.rejects(w.ctl.connect('n2', 's1', {}), { message: /injected failure/ });
  const logged = w.undoFailures();
  t.equal(logged.length, 1, 'one undo step failed');
  t.match(logged[0]?.fields, { operation: 'connect s1 to n2', left: /interface eth1 of s1 on n2/ }, 'logged with the operation and what it left');
  t.equal(w.store.pendingJournal().length, 1, "the join's journal entry stays");
  t.equal(w.ctl.state.endpointsOfSandbox(w.ctl.sandbox('s1').id).length, 1, 'the endpoint is not recorded');
  w.close();
  // The next start finishes the undo.
  const next = new World(w.dir);
  next.kernel = w.kernel;
  await next.start();
  t.same(next.store.pendingJournal(), [], 'replayed');
  t.same(next.actualKernel(), next.expectedKernel(), 'the interface the undo left is gone');
  next.close();
});
