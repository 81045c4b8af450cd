import t from 'tap';
import { groupSubnetFlags, parseAddressPoolFlag } from '../../src/ipam/flags';
import { cnmErrorOf, expected } from './ipam-helpers';

t.test('--default-address-pool base=CIDR,size=N', async (t) => {
  t.same(parseAddressPoolFlag('base=10.10.0.0/16,size=24'), { base: '10.10.0.0/16', size: 24 });
  t.same(parseAddressPoolFlag('SIZE=64, Base=fd00::/48'), { base: 'fd00::/48', size: 64 }, 'keys in any case and order');
  const fails = (value: string, why: string): void => {
    t.equal(cnmErrorOf(() => parseAddressPoolFlag(value)), expected('invalid', `invalid --default-address-pool "${value}": ${why}`), value);
  };
  fails('10.10.0.0/16', "field '10.10.0.0/16' must be a key=value pair");
  fails('base=10.10.0.0/16,size=x', "size 'x' must be an integer prefix length");
  fails('base=10.10.0.0/16,size=24,scope=local', "unexpected key 'scope' (expected base=CIDR,size=N)");
  fails('base=10.10.0.0/16', 'both base=CIDR and size=N are required');
  fails('size=24', 'both base=CIDR and size=N are required');
  t.equal(
    cnmErrorOf(() => parseAddressPoolFlag('base=10.10.0.0/16,size=8')),
    expected('invalid', 'invalid default address pool base=10.10.0.0/16,size=8: size must be between 16 and 32'),
  );
});

t.test('network create flags are matched to their subnets, in subnet order', async (t) => {
  t.same(
    groupSubnetFlags({
      subnets: ['10.1.0.0/24', '10.2.0.0/24', 'fd00::/64'],
      ipRanges: ['10.2.0.128/25'],
      gateways: ['10.2.0.254', 'fd00::1', '10.1.0.1'],
      auxAddresses: { host: '10.1.0.5', other: '10.1.0.6' },
    }),
    [
      { subnet: '10.1.0.0/24', gateway: '10.1.0.1', auxAddresses: { host: '10.1.0.5', other: '10.1.0.6' } },
      { subnet: '10.2.0.0/24', ipRange: '10.2.0.128/25', gateway: '10.2.0.254' },
      { subnet: 'fd00::/64', gateway: 'fd00::1' },
    ],
  );
  t.same(groupSubnetFlags({ subnets: [] }), [], 'no flags: an automatic pool');
});

t.test("Docker's texts for flags that do not fit", async (t) => {
  const fails = (flags: Parameters<typeof groupSubnetFlags>[0], message: string): void => {
    t.equal(cnmErrorOf(() => groupSubnetFlags(flags)), expected('invalid', message), message);
  };
  const noSubnet = 'every ip-range or gateway must have a corresponding subnet';
  fails({ subnets: [], gateways: ['10.0.0.1'] }, noSubnet);
  fails({ subnets: [], ipRanges: ['10.0.0.0/25'] }, noSubnet);
  fails({ subnets: [], auxAddresses: { a: '10.0.0.5' } }, noSubnet);
  fails({ subnets: ['10.0.0.0/24'], gateways: ['10.0.0.1', '10.0.0.2'] }, noSubnet);
  fails({ subnets: ['10.20.0.300/24'] }, 'Invalid subnet 10.20.0.300/24 : invalid CIDR address: 10.20.0.300/24');
  fails({ subnets: ['10.0.0.0/16', '10.0.5.0/24'] }, 'multiple overlapping subnet configuration is not supported');
  fails({ subnets: ['10.20.0.0/24'], ipRanges: ['10.21.0.0/25'] }, 'no matching subnet for range 10.21.0.0/25');
  fails({ subnets: ['10.20.0.0/24'], ipRanges: ['10.20.0.0/23'] }, 'no matching subnet for range 10.20.0.0/23');
  fails({ subnets: ['10.20.0.0/24'], ipRanges: ['10.20.0.300/25'] }, 'Invalid ip-range 10.20.0.300/25 : invalid CIDR address: 10.20.0.300/25');
  fails(
    { subnets: ['10.20.0.0/24', '10.30.0.0/24'], ipRanges: ['10.20.0.0/25', '10.20.0.128/25'] },
    'cannot configure multiple ranges (10.20.0.128/25, 10.20.0.0/25) on the same subnet (10.20.0.0/24)',
  );
  fails({ subnets: ['10.20.0.0/24'], gateways: ['10.30.0.1'] }, 'no matching subnet for gateway 10.30.0.1');
  fails({ subnets: ['10.20.0.0/24'], gateways: ['notanip'] }, 'no matching subnet for gateway notanip');
  fails(
    { subnets: ['10.20.0.0/24', '10.30.0.0/24'], gateways: ['10.20.0.1', '10.20.0.2'] },
    'cannot configure multiple gateways (10.20.0.2, 10.20.0.1) for the same subnet (10.20.0.0/24)',
  );
  fails({ subnets: ['10.20.0.0/24'], auxAddresses: { a: '10.30.0.5' } }, 'no matching subnet for aux-address 10.30.0.5');
});
