import type { Migration } from './index.js';

/** Owner approvals and the clip jobs they become (DESIGN.md, "Owner consent", "Upload"). */
export const share: Migration = {
  version: 3,
  name: 'share',
  sql: `
    -- One per shared request, written in the transaction that moves it to 'shared'.
    CREATE TABLE approvals (
      request_id  TEXT PRIMARY KEY REFERENCES requests(id),
      decided_at  INTEGER NOT NULL,
      clock_sync  TEXT NOT NULL CHECK (clock_sync IN ('synced', 'unsynced', 'unknown')),
      mode        TEXT NOT NULL CHECK (mode IN ('fast', 'exact')),
      audio       INTEGER NOT NULL CHECK (audio IN (0, 1)),
      choice      TEXT NOT NULL
    );

    -- A clip the owner approved, and where it is on its way to the agency. The source
    -- segments are pinned (owner 'share:<id>') until the clip is sealed; the sealed files
    -- stay in the outbox until the agency has every byte. File names are random.
    CREATE TABLE share_jobs (
      id               INTEGER PRIMARY KEY,
      request_id       TEXT NOT NULL REFERENCES approvals(request_id),
      clip_index       INTEGER NOT NULL,
      range_start      INTEGER NOT NULL,
      range_end        INTEGER NOT NULL,
      state            TEXT NOT NULL
                       CHECK (state IN ('approved', 'exported', 'sealed', 'uploading', 'uploaded', 'failed')),
      name             TEXT NOT NULL UNIQUE,
      plain_bytes      INTEGER,
      -- What the cut used, for the custody record: {segments: [sha256], method, audio}.
      export_facts     TEXT,
      sealed_sha256    TEXT,
      sealed_bytes     INTEGER,
      custody_bytes    INTEGER,
      clip_url         TEXT,
      custody_url      TEXT,
      clip_sent        INTEGER NOT NULL DEFAULT 0,
      custody_sent     INTEGER NOT NULL DEFAULT 0,
      attempts         INTEGER NOT NULL DEFAULT 0,
      last_error       TEXT,
      failure          TEXT,
      updated_at       INTEGER NOT NULL,
      UNIQUE (request_id, clip_index),
      CHECK (range_end > range_start)
    );
    CREATE INDEX share_jobs_state ON share_jobs(state);
  `,
};
