/**
 * The host's resolv.conf, followed while the daemon runs (VPNs and DHCP change it; Docker reads it
 * once, moby#46199): where forwarded queries go when `cnmd --dns` is not given, and the search
 * domains and options sandboxes inherit. Polling stat() follows symlinks and atomic renames
 * alike, which directory watches miss.
 */
import { readFileSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import { parseResolvConf, type ResolvConf } from '../os/resolvconf';

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
