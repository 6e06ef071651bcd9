import type { Database } from './db/database.js';

/**
 * Small facts the agent keeps across restarts and shows in `threshold status`: the
 * recorder's state and last error, why recording is paused. Values are JSON.
 */
export class AgentState {
  constructor(private readonly db: Database) {}

  async set(key: string, value: unknown): Promise<void> {
    await this.db.run(
      'INSERT INTO agent_state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
      [key, JSON.stringify(value)],
    );
  }

  async get<T>(key: string): Promise<T | undefined> {
    const row = await this.db.get<{ value: string }>(
      'SELECT value FROM agent_state WHERE key = ?',
      [key],
    );
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  async delete(key: string): Promise<void> {
    await this.db.run('DELETE FROM agent_state WHERE key = ?', [key]);
  }
}

/** What the recorder reports about itself, under the key `recorder`. */
export interface RecorderStatus {
  state: 'starting' | 'recording' | 'reconnecting' | 'paused' | 'stopped';
  since: number;
  /** Why recording is paused, when it is. */
  pauseReason?: string;
  lastError?: { at: number; message: string };
  /** Wall-clock ms the process last proved it is alive (a segment closed). */
  heartbeat?: number;
}
