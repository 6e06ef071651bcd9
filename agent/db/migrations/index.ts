import { recording } from './001-recording.js';
import { requests } from './002-requests.js';
import { share } from './003-share.js';

/** A schema step. Versions are consecutive; a released migration is never edited. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** Every migration, oldest first. */
export const MIGRATIONS: readonly Migration[] = [recording, requests, share];
