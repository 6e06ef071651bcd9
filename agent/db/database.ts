import sqlite3 from 'sqlite3';
import { ThresholdError } from '../errors.js';
import { MIGRATIONS, type Migration } from './migrations/index.js';

export type SqlParam = string | number | bigint | null | Buffer;

export interface RunResult {
  lastId: number;
  changes: number;
}

/**
 * One SQLite connection (WAL, `synchronous=FULL` so that a committed row survives a power
 * cut) with promise methods. sqlite3 runs statements of one connection in order, but
 * awaited steps of two async transactions would interleave: `transaction` queues them.
 *
 * INVARIANTS: statements outside `transaction` never run while a transaction holds the
 * connection, since they queue behind it too.
 */
export class Database {
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(private readonly db: sqlite3.Database) {}

  static async open(
    path: string,
    migrations: readonly Migration[] = MIGRATIONS,
  ): Promise<Database> {
    const raw = await new Promise<sqlite3.Database>((resolve, reject) => {
      const db = new sqlite3.Database(path, (err) => (err ? reject(err) : resolve(db)));
    });
    const db = new Database(raw);
    raw.configure('busyTimeout', 5000);
    await db.exec('PRAGMA journal_mode = WAL');
    await db.exec('PRAGMA synchronous = FULL');
    await db.exec('PRAGMA foreign_keys = ON');
    await db.migrate(migrations);
    return db;
  }

  /**
   * Applies the migrations newer than the database's `user_version`, each in its own
   * transaction. The version is read inside the write lock, so two processes opening a
   * new database at once (the agent and a CLI command) apply each migration once.
   */
  private async migrate(migrations: readonly Migration[]): Promise<void> {
    const newest = migrations.at(-1)?.version ?? 0;
    for (const migration of migrations) {
      await this.#exec('BEGIN IMMEDIATE');
      try {
        const row = await this.#get<{ user_version: number }>('PRAGMA user_version');
        const current = row?.user_version ?? 0;
        if (current > newest) {
          throw new ThresholdError(
            'db_too_new',
            `the database is at schema version ${current}, newer than this agent knows (${newest})`,
          );
        }
        if (current < migration.version) {
          await this.#exec(migration.sql);
          await this.#exec(`PRAGMA user_version = ${migration.version}`);
        }
        await this.#exec('COMMIT');
      } catch (err) {
        await this.#exec('ROLLBACK');
        throw err;
      }
    }
  }

  exec(sql: string): Promise<void> {
    return this.#enqueue(() => this.#exec(sql));
  }

  run(sql: string, params: readonly SqlParam[] = []): Promise<RunResult> {
    return this.#enqueue(() => this.#run(sql, params));
  }

  get<T>(sql: string, params: readonly SqlParam[] = []): Promise<T | undefined> {
    return this.#enqueue(() => this.#get<T>(sql, params));
  }

  all<T>(sql: string, params: readonly SqlParam[] = []): Promise<T[]> {
    return this.#enqueue(() => this.#all<T>(sql, params));
  }

  /**
   * Runs `fn` inside BEGIN IMMEDIATE … COMMIT with the connection to itself; rolls back
   * if it throws. `fn` must use the `tx` handle it is given, not this object.
   */
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    return this.#enqueue(async () => {
      await this.#exec('BEGIN IMMEDIATE');
      try {
        const result = await fn({
          run: (sql, params = []) => this.#run(sql, params),
          get: (sql, params = []) => this.#get(sql, params),
          all: (sql, params = []) => this.#all(sql, params),
        });
        await this.#exec('COMMIT');
        return result;
      } catch (err) {
        await this.#exec('ROLLBACK');
        throw err;
      }
    });
  }

  close(): Promise<void> {
    return this.#enqueue(
      () =>
        new Promise<void>((resolve, reject) =>
          this.db.close((err) => (err ? reject(err) : resolve())),
        ),
    );
  }

  #enqueue<T>(step: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(step, step);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  #exec(sql: string): Promise<void> {
    return new Promise((resolve, reject) =>
      this.db.exec(sql, (err) => (err ? reject(err) : resolve())),
    );
  }

  #run(sql: string, params: readonly SqlParam[]): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      this.db.run(sql, params, function (this: sqlite3.RunResult, err: Error | null) {
        if (err) reject(err);
        else resolve({ lastId: this.lastID, changes: this.changes });
      });
    });
  }

  #get<T>(sql: string, params: readonly SqlParam[] = []): Promise<T | undefined> {
    return new Promise((resolve, reject) =>
      this.db.get(sql, params, (err, row) => (err ? reject(err) : resolve(row as T | undefined))),
    );
  }

  #all<T>(sql: string, params: readonly SqlParam[]): Promise<T[]> {
    return new Promise((resolve, reject) =>
      this.db.all(sql, params, (err, rows) => (err ? reject(err) : resolve(rows as T[]))),
    );
  }
}

/** The connection as seen from inside `Database.transaction`. */
export interface Transaction {
  run(sql: string, params?: readonly SqlParam[]): Promise<RunResult>;
  get<T>(sql: string, params?: readonly SqlParam[]): Promise<T | undefined>;
  all<T>(sql: string, params?: readonly SqlParam[]): Promise<T[]>;
}
