/**
 * The resolver's native fast path, seen from TypeScript: a thread in the addon
 * (src/native/responder.c) owns every sandbox's UDP socket, answers local names from the table
 * compiled by native-table.ts, and hands everything else here, to the query engine, with the
 * listener's slot and the client's address. Replies made here go back through the same socket.
 * TCP stays in Node (tcp.ts).
 */
import { dnsResponderAddon, type DnsResponderAddon, type DnsResponderHandle } from '../os/native';
import type { QueryEngine, ReplySink } from './engine';
import { LATENCY_BUCKETS, METRIC_TYPE_INDEX, METRIC_TYPE_LABELS, type NativeCounts } from './metrics';
import { NativeTableCompiler } from './native-table';
import type { Snapshot } from './records';

/** The client of a query that arrived through the native responder. */
interface NativePeer {
  readonly address: string;
  readonly port: number;
}

/** A sandbox's UDP socket as the engine sees it when the native thread owns it. */
class NativeUdpSink implements ReplySink {
  readonly tcp = false;
  /** Set when the listener closes: an upstream answer may still arrive for it. */
  closed = false;

  constructor(
    readonly sandboxId: string,
    private readonly responder: NativeResponder,
    readonly slot: number,
  ) {}

  reply(response: Buffer, peer: unknown): void {
    if (this.closed) return;
    const to = peer as NativePeer;
    this.responder.send(this.slot, response, to.address, to.port);
  }
}

/** Why the native responder is not used, or null when it is. */
export function nativeUnavailable(enabled: boolean): string | null {
  if (!enabled) return 'disabled (CNM_DNS_NATIVE=0 or nativeResponder: false)';
  if (dnsResponderAddon() === undefined) return 'the built addon has no responder (rebuild with npx node-gyp rebuild)';
  return null;
}

export class NativeResponder {
  private readonly sinks = new Map<number, NativeUdpSink>();
  private readonly slotOf = new Map<string, number>();
  private readonly freeSlots: number[] = [];
  /**
   * Slots closed since the last table: the table in force still maps them to the view of the
   * sandbox that had them, so they are reused only once a table without them is in force
   * (else a new sandbox could be answered from the old one's view until the next install).
   */
  private closedSlots: number[] = [];
  private slotCount = 0;
  private readonly compiler: NativeTableCompiler;

  private constructor(
    private readonly addon: DnsResponderAddon,
    private readonly handle: DnsResponderHandle,
  ) {
    this.compiler = new NativeTableCompiler(addon);
  }

  /** Starts the thread; throws (with the system's reason) when it cannot. */
  static start(engine: QueryEngine): NativeResponder {
    const addon = dnsResponderAddon();
    if (addon === undefined) throw new Error('the built addon has no DNS responder');
    let self: NativeResponder | null = null;
    const onQuery = (slot: number, address: string, port: number, msg: Buffer): void => {
      const sink = self?.sinks.get(slot);
      if (sink !== undefined && !sink.closed) engine.handle(msg, sink, { address, port } satisfies NativePeer);
    };
    const handle = addon.dnsResponderOpen(onQuery, METRIC_TYPE_INDEX, METRIC_TYPE_LABELS, Float64Array.from(LATENCY_BUCKETS));
    self = new NativeResponder(addon, handle);
    return self;
  }

  /**
   * Gives each sandbox a slot before its listener opens, so that the table installed next
   * already maps it to its view (one table per update, and no moment where a new listener is
   * answered from a table that does not know it). A sandbox whose slot is still served by an old
   * listener (its namespace changed) gets a new one.
   */
  reserve(sandboxIds: Iterable<string>): void {
    for (const id of sandboxIds) {
      const slot = this.slotOf.get(id);
      if (slot === undefined || this.sinks.has(slot)) this.slotOf.set(id, this.freeSlots.pop() ?? this.slotCount++);
    }
  }

  /** Gives back the slot reserved for a sandbox whose listener could not be opened. */
  release(sandboxId: string): void {
    const slot = this.slotOf.get(sandboxId);
    if (slot === undefined || this.sinks.has(slot)) return;
    this.slotOf.delete(sandboxId);
    this.closedSlots.push(slot);
  }

  /**
   * Hands a sandbox's UDP socket to the thread (which closes it on unwatch) and returns the sink
   * the engine replies through. Throws, leaving fd to the caller, when epoll refuses it.
   */
  watch(sandboxId: string, fd: number): NativeUdpSink {
    this.reserve([sandboxId]);
    const slot = this.slotOf.get(sandboxId)!;
    this.addon.dnsResponderWatch(this.handle, slot, fd);
    const sink = new NativeUdpSink(sandboxId, this, slot);
    this.sinks.set(slot, sink);
    return sink;
  }

  /** Stops serving the sink's socket and closes it; the slot is free for another sandbox. */
  unwatch(sink: NativeUdpSink): void {
    sink.closed = true;
    this.addon.dnsResponderUnwatch(this.handle, sink.slot);
    this.sinks.delete(sink.slot);
    if (this.slotOf.get(sink.sandboxId) === sink.slot) this.slotOf.delete(sink.sandboxId);
    this.closedSlots.push(sink.slot);
  }

  /**
   * Makes snapshot the native table (one swap; the old table is freed once no batch holds it),
   * unless the table would be the one in force. Sandboxes are mapped through the slots reserved
   * or watched so far.
   */
  install(snapshot: Snapshot): void {
    const closed = this.closedSlots;
    const table = this.compiler.compile(snapshot, this.slotOf, this.slotCount);
    if (table !== null) {
      try {
        this.addon.dnsResponderInstallNetworks(this.handle, table.head, table.networks);
      } catch (err) {
        this.compiler.forget();
        throw err;
      }
    }
    // The table in force maps none of them any more (compiled without them).
    this.closedSlots = [];
    this.freeSlots.push(...closed);
  }

  /**
   * Swaps in a whole compiled table (compileNativeTable: tests, tools); throws (keeping the
   * current one) when C finds it malformed. The next install() compiles a table again.
   */
  installTable(table: Buffer): void {
    this.compiler.forget();
    this.addon.dnsResponderInstall(this.handle, table);
  }

  send(slot: number, reply: Buffer, address: string, port: number): void {
    this.addon.dnsResponderSend(this.handle, slot, reply, address, port);
  }

  /** The native answer to msg on slot's socket, or null when TypeScript answers (tests). */
  answer(slot: number, msg: Buffer): Buffer | null {
    return this.addon.dnsResponderAnswer(this.handle, slot, msg);
  }

  /** The slot reserved for a sandbox (tests of the table, without sockets). */
  reserveSlot(sandboxId: string): number {
    this.reserve([sandboxId]);
    return this.slotOf.get(sandboxId)!;
  }

  /** The counters the thread keeps, read now. */
  counts(): NativeCounts {
    const raw = this.addon.dnsResponderStats(this.handle);
    const labels = METRIC_TYPE_LABELS;
    const buckets = LATENCY_BUCKETS.length + 1;
    return {
      byType: raw.subarray(0, labels),
      buckets: raw.subarray(labels, labels + buckets),
      seconds: raw[labels + buckets]!,
      handedToJs: raw[labels + buckets + 1]!,
      dropped: raw[labels + buckets + 2]!,
    };
  }

  /** Stops the thread and closes every socket it still owns. */
  close(): void {
    for (const sink of this.sinks.values()) sink.closed = true;
    this.sinks.clear();
    this.addon.dnsResponderClose(this.handle);
    this.compiler.close();
  }
}

export type { NativeUdpSink };
