import t from 'tap';
import { formatCidr, mustParseCidr, type Cidr } from '../../src/ipam/cidr';
import { DEFAULT_POOLS, compilePoolSpec, findFreeSubnet, mergeBlockers } from '../../src/ipam/default-pools';
import { cnmErrorOf, expected } from './ipam-helpers';

const defaults = DEFAULT_POOLS.map(compilePoolSpec);
const cidrs = (...texts: string[]): Cidr[] => texts.map(mustParseCidr);
const next = (taken: string[], after?: string): string | undefined => {
  const found = findFreeSubnet(defaults, mergeBlockers(cidrs(...taken)), after ? mustParseCidr(after) : undefined);
  return found && formatCidr(found);
};

t.test("Docker's default sequence: 172.17-31 as /16s, then 192.168/16 as /20s (31 subnets)", async (t) => {
  const handed: string[] = [];
  let cursor: string | undefined;
  for (;;) {
    const subnet = next(handed, cursor);
    if (!subnet) break;
    handed.push(subnet);
    cursor = subnet;
  }
  t.equal(handed.length, 31);
  t.same(handed.slice(0, 15), Array.from({ length: 15 }, (_, i) => `172.${17 + i}.0.0/16`));
  t.same(handed.slice(15), Array.from({ length: 16 }, (_, i) => `192.168.${i * 16}.0/20`));
});

t.test('the search continues after the cursor and wraps around, the cursor itself last', async (t) => {
  t.equal(next([], '172.20.0.0/16'), '172.21.0.0/16', 'a freed earlier subnet is not reused before wrapping');
  t.equal(next(['172.21.0.0/16', '172.22.0.0/16'], '172.20.0.0/16'), '172.23.0.0/16');
  t.equal(next(['172.17.0.0/16'], '192.168.240.0/20'), '172.18.0.0/16', 'wraps to the start');
  const allButCursor = [...Array.from({ length: 15 }, (_, i) => `172.${17 + i}.0.0/16`), ...Array.from({ length: 15 }, (_, i) => `192.168.${i * 16}.0/20`)];
  t.equal(next(allButCursor, '192.168.240.0/20'), '192.168.240.0/20', 'the cursor subnet is the last candidate');
  t.equal(next([...allButCursor, '192.168.240.0/20'], '192.168.240.0/20'), undefined, 'all taken');
  t.equal(next([], '10.0.0.0/24'), '172.17.0.0/16', 'a cursor outside the pools (reconfigured) starts over');
  t.equal(next([], '172.20.0.0/24'), '172.17.0.0/16', 'a cursor of another size starts over');
});

t.test('blockers: any overlap skips a candidate, big blockers are jumped over', async (t) => {
  t.equal(next(['172.17.5.0/24']), '172.18.0.0/16', 'a partial overlap blocks');
  t.equal(next(['172.16.0.0/12']), '192.168.0.0/20', 'a blocker covering many candidates');
  t.equal(next(['172.16.0.0/12', '192.168.0.0/19']), '192.168.32.0/20');
  t.equal(next(['0.0.0.0/0']), '172.17.0.0/16', '/0 (a default route) is ignored');
  t.equal(next(['172.17.0.1/32', '172.18.0.0/15', '172.20.0.0/16']), '172.21.0.0/16');
});

t.test('mergeBlockers sorts and merges touching and overlapping prefixes', async (t) => {
  const merged = mergeBlockers(cidrs('10.0.2.0/24', '10.0.0.0/24', '10.0.1.0/24', '10.0.0.128/25', '10.1.0.0/16'));
  t.same(
    merged.map((i) => [i.first, i.last]),
    [
      [0x0a000000n, 0x0a0002ffn],
      [0x0a010000n, 0x0a01ffffn],
    ],
  );
});

t.test('huge configured pools are searched by index, not listed', async (t) => {
  const v6 = [compilePoolSpec({ base: 'fd00::/8', size: 64 })];
  const blockers = mergeBlockers(cidrs('fd00::/16', 'fd01::/64'));
  t.equal(formatCidr(findFreeSubnet(v6, blockers)!), 'fd01:0:0:1::/64');
  const wide = [compilePoolSpec({ base: '10.0.0.0/8', size: 24 })];
  // 65,535 taken /24s, as one merged blocker and as the cursor: the search must not walk them.
  const taken = mergeBlockers(cidrs('10.0.0.0/9', '10.128.0.0/10', '10.192.0.0/11', '10.224.0.0/12', '10.240.0.0/13', '10.248.0.0/14', '10.252.0.0/15', '10.254.0.0/16', '10.255.0.0/17', '10.255.128.0/18', '10.255.192.0/19', '10.255.224.0/20', '10.255.240.0/21', '10.255.248.0/22', '10.255.252.0/23', '10.255.254.0/24'));
  t.equal(formatCidr(findFreeSubnet(wide, taken, mustParseCidr('10.0.0.0/24'))!), '10.255.255.0/24');
});

t.test('pool specs are validated', async (t) => {
  const fails = (base: string, size: number, message: string): void => {
    t.equal(
      cnmErrorOf(() => compilePoolSpec({ base, size })),
      expected('invalid', `invalid default address pool base=${base},size=${size}: ${message}`),
    );
  };
  fails('10.0.0.300/16', 24, 'base is not a CIDR prefix');
  fails('10.0.0.1/16', 24, 'base has host bits set, it should be 10.0.0.0/16');
  fails('10.0.0.0/16', 8, 'size must be between 16 and 32');
  fails('10.0.0.0/16', 33, 'size must be between 16 and 32');
  fails('fd00::/48', 129, 'size must be between 48 and 128');
  const p = compilePoolSpec({ base: '10.10.0.0/16', size: 24 });
  t.equal(p.count, 256n);
  t.equal(p.step, 256n);
});
