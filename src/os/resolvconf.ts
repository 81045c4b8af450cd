/** resolv.conf: parse the host's, render a sandbox's. Pure. */

export interface ResolvConf {
  nameservers: string[];
  search: string[];
  options: string[];
}

export function parseResolvConf(text: string): ResolvConf {
  const out: ResolvConf = { nameservers: [], search: [], options: [] };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    if (!line) continue;
    const [keyword, ...args] = line.split(/\s+/);
    if (keyword === 'nameserver' && args[0]) out.nameservers.push(args[0]);
    // The last search/domain line wins, as in glibc.
    else if (keyword === 'search' || keyword === 'domain') out.search = args;
    else if (keyword === 'options') out.options.push(...args);
  }
  return out;
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
