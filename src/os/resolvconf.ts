/** resolv.conf(5): parse the host's, render a sandbox's. Pure; the only reader of the format in cnm. */
import { isIP } from 'node:net';

export interface ResolvConf {
  nameservers: string[];
  search: string[];
  options: string[];
}

export function parseResolvConf(text: string): ResolvConf {
  const conf: ResolvConf = { nameservers: [], search: [], options: [] };
  for (const raw of text.split('\n')) {
    const [keyword, ...values] = raw.replace(/[#;].*/, '').trim().split(/\s+/);
    // glibc skips a nameserver it cannot parse; so do we (a zone such as %eth0 is kept).
    if (keyword === 'nameserver' && values[0] !== undefined && isIP(values[0].split('%')[0]!) !== 0) conf.nameservers.push(values[0]);
    // The last search/domain line wins, as in glibc.
    else if (keyword === 'search' || keyword === 'domain') conf.search = values.filter(Boolean);
    else if (keyword === 'options') conf.options.push(...values.filter(Boolean));
  }
  return conf;
}

export function renderResolvConf(conf: ResolvConf): string {
  const lines: string[] = [];
  if (conf.search.length) lines.push(`search ${conf.search.join(' ')}`);
  for (const ns of conf.nameservers) lines.push(`nameserver ${ns}`);
  if (conf.options.length) lines.push(`options ${conf.options.join(' ')}`);
  return `${lines.join('\n')}\n`;
}

export function isLoopbackAddress(address: string): boolean {
  return address.startsWith('127.') || address === '::1';
}
