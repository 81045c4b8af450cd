/**
 * The host's resolv.conf, followed while the daemon runs (VPNs and DHCP change it; Docker reads it
 * once, moby#46199): where forwarded queries go when `cnmd --dns` is not given, and the search
 * domains and options sandboxes inherit. Polling follows symlinks and atomic renames alike, which
 * directory watches miss. It compares the content, not stat(): a rewrite of the same length within
 * one tick of the kernel's coarse clock keeps size and mtime, and a stat watcher never sees it.
 * Reading a file of a few hundred bytes once a second costs nothing.
 */
import { readFileSync } from 'node:fs';
import { parseResolvConf, type ResolvConf } from '../os/resolvconf';

/** Reads a resolv.conf now and calls onChange whenever its content changes. A missing file is empty. */
export class ResolvConfWatcher {
  private text: string;
  current: ResolvConf;
  private readonly timer: NodeJS.Timeout;

  constructor(path: string, onChange: (conf: ResolvConf) => void, pollMs: number) {
    this.text = read(path);
    this.current = parseResolvConf(this.text);
    this.timer = setInterval(() => {
      const text = read(path);
      if (text === this.text) return;
      this.text = text;
      this.current = parseResolvConf(text);
      onChange(this.current);
    }, pollMs);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }
}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
