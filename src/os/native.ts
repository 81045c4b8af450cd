/**
 * Typed face of cnm's native addon (src/native/*.c). Everything here is synchronous and
 * touches only the calling thread's network namespace, which it always restores.
 */
import path from 'node:path';

interface NativeAddon {
  runInNetns<T>(nsPath: string, fn: () => T): T;
  createNetns(nsPath: string): void;
  deleteNetns(nsPath: string): void;
  isNetnsMount(nsPath: string): boolean;
  bindSocket(kind: 'udp' | 'tcp', address: string, port: number, backlog?: number, v6only?: number, receiveBuffer?: number): number;
  closeFd(fd: number): void;
  raiseFdLimit(): number;
  nftOpen(nsPath: string | null): NftContext;
  nftRun(context: NftContext, commands: string, json: boolean): Promise<NftRunResult>;
  nftClose(context: NftContext): void;
  nfEventsOpen(onEvent: (errno: number, datagram: Buffer | undefined) => void): NfEventsHandle;
  nfEventsClose(handle: NfEventsHandle): void;
  dnsResponderOpen(onQuery: DnsFallback, typeIndex: Uint8Array, labels: number, bucketBounds: Float64Array): DnsResponderHandle;
  dnsResponderWatch(handle: DnsResponderHandle, slot: number, fd: number): void;
  dnsResponderUnwatch(handle: DnsResponderHandle, slot: number): void;
  dnsResponderInstall(handle: DnsResponderHandle, table: Buffer): void;
  dnsResponderInstallNetworks(handle: DnsResponderHandle, head: Buffer, networks: DnsNetworkHandle[]): void;
  dnsNetworkBuild(entries: Buffer, count: number): DnsNetworkHandle;
  dnsNetworkDerive(base: DnsNetworkHandle, delta: Buffer, count: number): DnsNetworkHandle;
  dnsNetworkRelease(handle: DnsNetworkHandle): void;
  dnsResponderSend(handle: DnsResponderHandle, slot: number, reply: Buffer, address: string, port: number): void;
  dnsResponderAnswer(handle: DnsResponderHandle, slot: number, msg: Buffer): Buffer | null;
  dnsResponderStats(handle: DnsResponderHandle): Float64Array;
  dnsResponderClose(handle: DnsResponderHandle): void;
}

/** The resolver's native UDP responder (src/native/responder.c); see src/resolver/native-responder.ts. */
export type DnsResponderHandle = { readonly __brand: 'DnsResponderHandle' };
/** One network's part of the native table, built in C; shared by the tables that use it. */
export type DnsNetworkHandle = { readonly __brand: 'DnsNetworkHandle' };
/** A message the native responder leaves to JavaScript: the listener's slot, the client, the bytes. */
export type DnsFallback = (slot: number, address: string, port: number, msg: Buffer) => void;

/** The native responder's functions, as the addon exports them (undefined in an older build). */
export type DnsResponderAddon = Pick<
  NativeAddon,
  | 'dnsResponderOpen'
  | 'dnsResponderWatch'
  | 'dnsResponderUnwatch'
  | 'dnsResponderInstall'
  | 'dnsResponderInstallNetworks'
  | 'dnsNetworkBuild'
  | 'dnsNetworkDerive'
  | 'dnsNetworkRelease'
  | 'dnsResponderSend'
  | 'dnsResponderAnswer'
  | 'dnsResponderStats'
  | 'dnsResponderClose'
>;

/** The responder's functions, or undefined when the built addon predates them. */
export function dnsResponderAddon(): DnsResponderAddon | undefined {
  return typeof addon.dnsResponderOpen === 'function' && typeof addon.dnsNetworkDerive === 'function' ? addon : undefined;
}

/** An in-process libnftables context (src/native/nftables.c), bound to one network namespace. */
export type NftContext = { readonly __brand: 'NftContext' };

/** A subscription to nftables change events (src/native/nfevents.c). */
export type NfEventsHandle = { readonly __brand: 'NfEventsHandle' };

/** What one libnftables run printed: `ok` is false when nft rejected the batch (nothing applied). */
export interface NftRunResult {
  ok: boolean;
  output: string;
  error: string;
}

// dist/src/os/native.js → <repo>/build/Release/cnm_native.node
const addon = require(path.join(__dirname, '..', '..', '..', 'build', 'Release', 'cnm_native.node')) as NativeAddon;

/** The cnm-exec helper built next to the addon (src/native/exec/cnm_exec.c). */
export const CNM_EXEC_PATH = path.join(__dirname, '..', '..', '..', 'build', 'Release', 'cnm-exec');

/** Runs fn synchronously with this thread inside the namespace at nsPath. fn must not await. */
export function runInNetns<T>(nsPath: string, fn: () => T): T {
  return addon.runInNetns(nsPath, fn);
}

/** Creates a network namespace (loopback up) kept alive by a bind mount at nsPath. */
export function createNetns(nsPath: string): void {
  addon.createNetns(nsPath);
}

/** Unmounts and removes a namespace file; a missing one is fine. */
export function deleteNetns(nsPath: string): void {
  addon.deleteNetns(nsPath);
}

/** True when nsPath is a live namespace mount. */
export function isNetnsMount(nsPath: string): boolean {
  return addon.isNetnsMount(nsPath);
}

/**
 * Opens a socket bound to address:port inside the namespace at nsPath (listening, for TCP) and
 * returns its fd, for dgram `bind({fd})` or net `listen({fd})`.
 */
export function openSocketInNetns(nsPath: string, kind: 'udp' | 'tcp', address: string, port: number, options: SocketOptions = {}): number {
  return addon.runInNetns(nsPath, () => bindSocket(kind, address, port, options));
}

/**
 * Several sockets opened in one visit to the namespace at nsPath (one setns there and back for
 * all of them); all or none: on a failure the ones already open are closed.
 */
export function openSocketsInNetns(nsPath: string, specs: { kind: 'udp' | 'tcp'; address: string; port: number; options?: SocketOptions }[]): number[] {
  return addon.runInNetns(nsPath, () => {
    const fds: number[] = [];
    try {
      for (const s of specs) fds.push(bindSocket(s.kind, s.address, s.port, s.options));
    } catch (err) {
      for (const fd of fds) addon.closeFd(fd);
      throw err;
    }
    return fds;
  });
}

/** A socket bound in the calling thread's own namespace (port 0: any free port); returns its fd. */
export function bindSocket(kind: 'udp' | 'tcp', address: string, port: number, options: SocketOptions = {}): number {
  const v6only = options.ipv6Only === undefined ? -1 : options.ipv6Only ? 1 : 0;
  return addon.bindSocket(kind, address, port, 511, v6only, options.receiveBufferBytes ?? 0);
}

export interface SocketOptions {
  /** IPv6 addresses: true binds IPv6 only, false both families on `::`; unset, the system default. */
  ipv6Only?: boolean;
  /** SO_RCVBUF beyond net.core.rmem_max (root): how much the kernel queues while nobody reads. */
  receiveBufferBytes?: number;
}

/** Closes an fd that was never handed to Node. */
export function closeFd(fd: number): void {
  addon.closeFd(fd);
}

/**
 * Opens a libnftables context whose runs all happen inside the namespace at nsPath (null: the
 * daemon's own). Close it with nftClose.
 */
export function nftOpen(nsPath: string | null): NftContext {
  return addon.nftOpen(nsPath);
}

/**
 * Runs nft command text as one atomic batch on the thread pool. One run at a time per context:
 * a second call before the first settles throws.
 */
export function nftRun(context: NftContext, commands: string, json: boolean): Promise<NftRunResult> {
  return addon.nftRun(context, commands, json);
}

/** Frees a context (after its running batch, if any). Later runs throw. */
export function nftClose(context: NftContext): void {
  addon.nftClose(context);
}

/**
 * Subscribes to nftables change events (NFNLGRP_NFTABLES) in the namespace at nsPath (undefined:
 * the daemon's own): onEvent(0, datagram) for each datagram of netlink messages, onEvent(errno)
 * when events were lost (ENOBUFS, EMSGSIZE). Never keeps the process alive; nfEventsClose ends it.
 */
export function nfEventsOpen(nsPath: string | undefined, onEvent: (errno: number, datagram: Buffer | undefined) => void): NfEventsHandle {
  const open = (): NfEventsHandle => addon.nfEventsOpen(onEvent);
  return nsPath ? addon.runInNetns(nsPath, open) : open();
}

/** Ends a subscription: no event is delivered after this. Idempotent. */
export function nfEventsClose(handle: NfEventsHandle): void {
  addon.nfEventsClose(handle);
}

/** Lifts the soft open-file limit to the hard one; returns the new limit. */
export function raiseFdLimit(): number {
  return addon.raiseFdLimit();
}
