/**
 * Notices when someone else damages cnm's table: `nft flush ruleset`, a firewall reload,
 * `nft delete table inet cnm`, a rule or set element deleted by hand.
 *
 * How: a netlink socket in the daemon's namespace subscribed to NFNLGRP_NFTABLES, the group the
 * kernel announces every committed nftables change to (what `nft monitor` reads). Every
 * transaction arrives as its object events followed by one NEWGEN message. A transaction that
 * deleted anything in cnm's table and did not leave the table freshly created is damage; cnm's
 * own applies always end with "add table; delete table; table { ... }", so they never are.
 * (Origin cannot be told by pid: the kernel reports the thread that committed, and cnm commits
 * from libuv's worker threads.)
 *
 * Why events rather than polling: the kernel pushes the change within a millisecond, and an idle
 * daemon costs nothing; a periodic `list table` would cost a libnftables run (more with many
 * ports) every period and still notice only at the next tick (figures in bench/nat).
 * If events are ever lost (ENOBUFS: the socket overran), damage is assumed. The socket is cnm's
 * own (src/native/nfevents.c, 16 MB buffer): the `netlink` package's aborts the process on an
 * overrun, which one apply with ~1,000 published ports caused.
 */
import { getString, parseAttributes, parseMessages } from 'netlink';
import { nfEventsClose, nfEventsOpen, type NfEventsHandle } from '../os/native';

const NFNL_SUBSYS_NFTABLES = 10;
const NFPROTO_INET = 1;
const NFGENMSG_LEN = 4;
// linux/netfilter/nf_tables.h: enum nf_tables_msg_types
const MSG = { NEWTABLE: 0, DELTABLE: 2, NEWGEN: 15, DESTROYTABLE: 26 } as const;
/** DEL{TABLE,CHAIN,RULE,SET,SETELEM,OBJ,FLOWTABLE} and their DESTROY twins (kernel ≥ 6.3). */
const DELETIONS = new Set([2, 5, 8, 11, 14, 20, 24, 26, 27, 28, 29, 30, 31, 32]);
/** Attribute 1 of every table-scoped object message is the table's name. */
const ATTR_TABLE = 1;

export interface TableWatchOptions {
  /** Namespace whose nftables to watch (default: the daemon's own). */
  netnsPath?: string;
  /** The inet table to guard. */
  table: string;
  /** Called once per damaging transaction (and after lost events). */
  onDamage: () => void;
}

/** A transaction's effect on the watched table, folded event by event. */
export interface TransactionSummary {
  deleted: boolean;
  recreated: boolean;
}

/**
 * Folds one nftables event into the running summary of its transaction; returns true when the
 * event is the NEWGEN that closes the transaction.
 */
export function foldEvent(summary: TransactionSummary, type: number, data: Buffer, table: string): boolean {
  if (type >> 8 !== NFNL_SUBSYS_NFTABLES) return false;
  const msg = type & 0xff;
  if (msg === MSG.NEWGEN) return true;
  if (data.length < NFGENMSG_LEN || data[0] !== NFPROTO_INET) return false;
  if (tableOf(data) !== table) return false;
  if (msg === MSG.NEWTABLE) {
    summary.recreated = true;
  } else if (DELETIONS.has(msg)) {
    summary.deleted = true;
    if (msg === MSG.DELTABLE || msg === MSG.DESTROYTABLE) summary.recreated = false;
  }
  return false;
}

export function isDamage(summary: TransactionSummary): boolean {
  return summary.deleted && !summary.recreated;
}

function tableOf(data: Buffer): string | undefined {
  let name: string | undefined;
  parseAttributes(data.subarray(NFGENMSG_LEN), (a) => {
    if ((a.type & 0x3fff) === ATTR_TABLE && name === undefined) name = getString(a.data);
  });
  return name;
}

export class TableWatch {
  private summary: TransactionSummary = { deleted: false, recreated: false };
  private closed = false;
  private readonly handle: NfEventsHandle;

  private constructor(private readonly options: TableWatchOptions) {
    this.handle = nfEventsOpen(options.netnsPath, (errno, datagram) => this.onEvent(errno, datagram));
  }

  /** Subscribes in the namespace; the subscription never keeps Node alive. */
  static open(options: TableWatchOptions): TableWatch {
    return new TableWatch(options);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    nfEventsClose(this.handle);
  }

  private onEvent(errno: number, datagram: Buffer | undefined): void {
    if (this.closed) return;
    if (errno !== 0 || !datagram) {
      // Events were lost: we cannot know what they said.
      this.summary = { deleted: false, recreated: false };
      this.options.onDamage();
      return;
    }
    let damaged = false;
    try {
      for (const m of parseMessages(datagram)) {
        if (!foldEvent(this.summary, m.type, m.data, this.options.table)) continue;
        damaged ||= isDamage(this.summary);
        this.summary = { deleted: false, recreated: false };
      }
    } catch {
      damaged = true; // unreadable: assume the worst, as for lost events
      this.summary = { deleted: false, recreated: false };
    }
    if (damaged) this.options.onDamage();
  }
}
