/**
 * A string-keyed map that a new snapshot derives from the previous one by copying only the
 * shards its changes touch, each holding about 1/64 of the keys: a table of 1,000 sandboxes'
 * names is not copied whole (0.3 ms at 6,000 keys) because one alias changed. Read-only once
 * derived, as every part of a snapshot.
 */

const SHARD_BITS = 6;
const SHARDS = 1 << SHARD_BITS;

/** FNV-1a over the key's char codes; keys are wire names, a few dozen characters. */
function shardOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h ^ (h >>> SHARD_BITS)) & (SHARDS - 1);
}

/** What applying changes may do to a map being derived. */
export interface MapEditor<V> {
  get(key: string): V | undefined;
  set(key: string, value: V): void;
  delete(key: string): void;
}

const NO_SHARD: ReadonlyMap<string, never> = new Map<string, never>();

export class ShardedMap<V> implements ReadonlyMap<string, V> {
  private constructor(
    private readonly shards: readonly ReadonlyMap<string, V>[],
    readonly size: number,
  ) {}

  static empty<V>(): ShardedMap<V> {
    return new ShardedMap<V>(new Array<ReadonlyMap<string, V>>(SHARDS).fill(NO_SHARD), 0);
  }

  /** A new map: this one with edit's changes; shards edit does not write to are shared. */
  derive(edit: (editor: MapEditor<V>) => void): ShardedMap<V> {
    const shards = [...this.shards];
    const copied = new Uint8Array(SHARDS);
    let size = this.size;
    const writable = (shard: number): Map<string, V> => {
      if (copied[shard] === 0) {
        shards[shard] = new Map(shards[shard]);
        copied[shard] = 1;
      }
      return shards[shard] as Map<string, V>;
    };
    edit({
      get: (key) => shards[shardOf(key)]!.get(key),
      set: (key, value) => {
        const map = writable(shardOf(key));
        if (!map.has(key)) size++;
        map.set(key, value);
      },
      delete: (key) => {
        const shard = shardOf(key);
        if (!shards[shard]!.has(key)) return;
        writable(shard).delete(key);
        size--;
      },
    });
    return new ShardedMap(shards, size);
  }

  get(key: string): V | undefined {
    return this.shards[shardOf(key)]!.get(key);
  }

  has(key: string): boolean {
    return this.shards[shardOf(key)]!.has(key);
  }

  *entries(): IterableIterator<[string, V]> {
    for (const shard of this.shards) yield* shard.entries();
  }

  *keys(): IterableIterator<string> {
    for (const shard of this.shards) yield* shard.keys();
  }

  *values(): IterableIterator<V> {
    for (const shard of this.shards) yield* shard.values();
  }

  [Symbol.iterator](): IterableIterator<[string, V]> {
    return this.entries();
  }

  forEach(callback: (value: V, key: string, map: ReadonlyMap<string, V>) => void): void {
    for (const [key, value] of this.entries()) callback(value, key, this);
  }
}
