import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../test-support/cli.js';
import { Database } from './database.js';
import type { Migration } from './migrations/index.js';

describe('Database', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
  });
  afterEach(() => cleanup());

  const migrations: Migration[] = [
    { version: 1, name: 'one', sql: 'CREATE TABLE a (x INTEGER)' },
    { version: 2, name: 'two', sql: 'CREATE TABLE b (y INTEGER)' },
  ];

  it('applies each migration once when two connections open a new database at once', async () => {
    const path = join(dir, 'race.db');
    const [first, second] = await Promise.all([
      Database.open(path, migrations),
      Database.open(path, migrations),
    ]);
    const version = await first.get<{ user_version: number }>('PRAGMA user_version');
    expect(version?.user_version).toBe(2);
    await first.close();
    await second.close();
  });

  it('refuses a database newer than it knows', async () => {
    const path = join(dir, 'new.db');
    await (await Database.open(path, migrations)).close();
    await expect(Database.open(path, migrations.slice(0, 1))).rejects.toMatchObject({
      code: 'db_too_new',
    });
  });

  it('rolls a failing transaction back and keeps serving', async () => {
    const db = await Database.open(join(dir, 'tx.db'), migrations);
    await expect(
      db.transaction(async (tx) => {
        await tx.run('INSERT INTO a (x) VALUES (1)');
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    await db.transaction(async (tx) => tx.run('INSERT INTO a (x) VALUES (2)'));
    expect(await db.all<{ x: number }>('SELECT x FROM a')).toEqual([{ x: 2 }]);
    await db.close();
  });
});
