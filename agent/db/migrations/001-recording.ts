import type { Migration } from './index.js';

/** The footage index: recorder runs, segments, motion events and pins. */
export const recording: Migration = {
  version: 1,
  name: 'recording',
  sql: `
    -- One row per ffmpeg run; a gap in recording is the space between runs.
    CREATE TABLE recorder_runs (
      id          INTEGER PRIMARY KEY,
      started_at  INTEGER NOT NULL,
      ended_at    INTEGER,
      end_reason  TEXT
    );

    -- A closed, fsynced segment file. Rows are inserted only after the file and its
    -- directory are durable; deleting sets deleting = 1 before the file is unlinked.
    CREATE TABLE segments (
      id          INTEGER PRIMARY KEY,
      run_id      INTEGER NOT NULL REFERENCES recorder_runs(id),
      seq         INTEGER NOT NULL,
      file        TEXT NOT NULL UNIQUE,
      start_ms    INTEGER NOT NULL,
      end_ms      INTEGER NOT NULL,
      pts_start   REAL NOT NULL,
      pts_end     REAL NOT NULL,
      bytes       INTEGER NOT NULL,
      sha256      TEXT NOT NULL,
      keyframe_start INTEGER NOT NULL DEFAULT 1,
      motion      INTEGER NOT NULL DEFAULT 0,
      deleting    INTEGER NOT NULL DEFAULT 0,
      CHECK (end_ms >= start_ms)
    );
    CREATE INDEX segments_start ON segments(start_ms);
    CREATE INDEX segments_end ON segments(end_ms);

    CREATE TABLE motion_events (
      id        INTEGER PRIMARY KEY,
      start_ms  INTEGER NOT NULL,
      end_ms    INTEGER,
      score     REAL NOT NULL,
      source    TEXT NOT NULL
    );
    CREATE INDEX motion_events_start ON motion_events(start_ms);

    -- A hold on footage by an owner: a pending request or an approved upload.
    CREATE TABLE pins (
      owner       TEXT NOT NULL,
      segment_id  INTEGER NOT NULL REFERENCES segments(id),
      PRIMARY KEY (owner, segment_id)
    ) WITHOUT ROWID;
    CREATE INDEX pins_segment ON pins(segment_id);

    -- Small facts the agent keeps between runs (last error, pause reason, time floor).
    CREATE TABLE agent_state (
      key    TEXT PRIMARY KEY,
      value  TEXT NOT NULL
    ) WITHOUT ROWID;
  `,
};
