/**
 * The host's resolv.conf: where forwarded queries go when `cnmd --dns` is not given, followed
 * while the daemon runs (VPNs and DHCP change it; Docker reads it once, moby#46199). Polling
 * stat() follows symlinks and atomic renames alike, which directory watches miss.
 */
import { readFileSync, unwatchFile, watchFile, type Stats } from 'node:fs';
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
    if (keyword === 'nameserver' && values[0] !== undefined && isIP(values[0].split('%')[0]!) !== 0) conf.nameservers.push(values[0]);
    // The last search/domain line wins (resolv.conf(5)).
    else if (keyword === 'search' || keyword === 'domain') conf.search = values.filter(Boolean);
    else if (keyword === 'options') conf.options.push(...values.filter(Boolean));
  }
  return conf;
}

/** Reads a resolv.conf now and calls onChange whenever its content changes. A missing file is empty. */
export class ResolvConfWatcher {
  private text: string;
  current: ResolvConf;
  private readonly listener: (now: Stats, before: Stats) => void;

  constructor(
    private readonly path: string,
    onChange: (conf: ResolvConf) => void,
    pollMs: number,
  ) {
    this.text = read(path);
    this.current = parseResolvConf(this.text);
    this.listener = () => {
      const text = read(path);
      if (text === this.text) return;
      this.text = text;
      this.current = parseResolvConf(text);
      onChange(this.current);
    };
    watchFile(path, { interval: pollMs, persistent: false }, this.listener);
  }

  close(): void {
    unwatchFile(this.path, this.listener);
  }
}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
