import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { Database } from './database.js';

/** Where the agent's files live under `dataDir`. */
export function agentPaths(dataDir: string) {
  return {
    database: join(dataDir, 'threshold.db'),
    segments: join(dataDir, 'segments'),
    keys: join(dataDir, 'keys'),
    exports: join(dataDir, 'exports'),
    /** Sealed clips and records waiting for the agency (and the cuts being sealed). */
    outbox: join(dataDir, 'outbox'),
    /** Thumbnails and preview clips for the owner; never sent. */
    previews: join(dataDir, 'previews'),
  };
}

/** Opens `dataDir/threshold.db` with every migration applied. */
export function openAgentDatabase(config: Pick<Config, 'dataDir'>): Promise<Database> {
  return Database.open(agentPaths(config.dataDir).database);
}
