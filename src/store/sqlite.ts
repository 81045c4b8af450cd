/**
 * Local-scope state in SQLite (better-sqlite3, WAL). Every controller operation is one
 * transaction; a journal row written before any kernel work names what an unfinished
 * operation may have left behind, so start-up can undo it after a crash.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from '../controller/model';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS networks (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sandboxes (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS endpoints (
  id TEXT PRIMARY KEY,
  network_id TEXT NOT NULL REFERENCES networks(id),
  sandbox_id TEXT NOT NULL REFERENCES sandboxes(id),
  data TEXT NOT NULL,
  UNIQUE (network_id, sandbox_id)
);
CREATE TABLE IF NOT EXISTS journal (id INTEGER PRIMARY KEY AUTOINCREMENT, data TEXT NOT NULL);
`;

/** Changes made inside one transaction. */
export interface StoreTx {
  putNetwork(n: NetworkRecord): void;
  deleteNetwork(id: string): void;
  putSandbox(s: SandboxRecord): void;
  deleteSandbox(id: string): void;
  putEndpoint(e: EndpointRecord): void;
  deleteEndpoint(id: string): void;
  setMeta(key: string, value: string): void;
  /** Marks a journalled operation as finished. */
  endJournal(id: number): void;
}

export interface StoredState {
  networks: NetworkRecord[];
  sandboxes: SandboxRecord[];
  endpoints: EndpointRecord[];
}

export class SqliteStore {
  private readonly db: Database.Database;
  private readonly stmts;

  constructor(rootDir: string) {
    fs.mkdirSync(rootDir, { recursive: true, mode: 0o700 });
    this.db = new Database(path.join(rootDir, 'cnm.db'));
    this.db.pragma('journal_mode = WAL');
    // NORMAL survives any process crash (kill -9); only a power loss can drop the last commit.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.exec(SCHEMA);
    const db = this.db;
    this.stmts = {
      putNetwork: db.prepare('INSERT OR REPLACE INTO networks (id, name, data) VALUES (?, ?, ?)'),
      deleteNetwork: db.prepare('DELETE FROM networks WHERE id = ?'),
      putSandbox: db.prepare('INSERT OR REPLACE INTO sandboxes (id, name, data) VALUES (?, ?, ?)'),
      deleteSandbox: db.prepare('DELETE FROM sandboxes WHERE id = ?'),
      putEndpoint: db.prepare('INSERT OR REPLACE INTO endpoints (id, network_id, sandbox_id, data) VALUES (?, ?, ?, ?)'),
      deleteEndpoint: db.prepare('DELETE FROM endpoints WHERE id = ?'),
      setMeta: db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)'),
      getMeta: db.prepare('SELECT value FROM meta WHERE key = ?'),
      addJournal: db.prepare('INSERT INTO journal (data) VALUES (?)'),
      endJournal: db.prepare('DELETE FROM journal WHERE id = ?'),
      updateJournal: db.prepare('UPDATE journal SET data = ? WHERE id = ?'),
    };
  }

  load(): StoredState {
    const parse = <T>(rows: unknown[]): T[] => rows.map((r) => JSON.parse((r as { data: string }).data) as T);
    return {
      networks: parse<NetworkRecord>(this.db.prepare('SELECT data FROM networks').all()),
      sandboxes: parse<SandboxRecord>(this.db.prepare('SELECT data FROM sandboxes').all()),
      endpoints: parse<EndpointRecord>(this.db.prepare('SELECT data FROM endpoints').all()),
    };
  }

  getMeta(key: string): string | undefined {
    const row = this.stmts.getMeta.get(key) as { value: string } | undefined;
    return row?.value;
  }

  /** Runs fn in one transaction: all of its changes land, or none. */
  transaction(fn: (tx: StoreTx) => void): void {
    const s = this.stmts;
    const tx: StoreTx = {
      putNetwork: (n) => s.putNetwork.run(n.id, n.name, JSON.stringify(n)),
      deleteNetwork: (id) => s.deleteNetwork.run(id),
      putSandbox: (sb) => s.putSandbox.run(sb.id, sb.name, JSON.stringify(sb)),
      deleteSandbox: (id) => s.deleteSandbox.run(id),
      putEndpoint: (e) => s.putEndpoint.run(e.id, e.networkId, e.sandboxId, JSON.stringify(e)),
      deleteEndpoint: (id) => s.deleteEndpoint.run(id),
      setMeta: (key, value) => s.setMeta.run(key, value),
      endJournal: (id) => s.endJournal.run(id),
    };
    this.db.transaction(() => fn(tx))();
  }

  /** Records, before any kernel work, what an operation is about to make. Returns its id. */
  beginJournal(entry: unknown): number {
    return Number(this.stmts.addJournal.run(JSON.stringify(entry)).lastInsertRowid);
  }

  /** Replaces what a pending entry says (an operation learnt more about what it leaves behind). */
  updateJournal(id: number, entry: unknown): void {
    this.stmts.updateJournal.run(JSON.stringify(entry), id);
  }

  endJournal(id: number): void {
    this.stmts.endJournal.run(id);
  }

  pendingJournal<T>(): { id: number; entry: T }[] {
    return (this.db.prepare('SELECT id, data FROM journal ORDER BY id').all() as { id: number; data: string }[]).map((r) => ({
      id: r.id,
      entry: JSON.parse(r.data) as T,
    }));
  }

  close(): void {
    this.db.close();
  }
}
