import type { Migration } from './index.js';

/** The owner's page: pairing codes, sessions, and the owner's policy as changed there. */
export const ownerPage: Migration = {
  version: 4,
  name: 'owner-page',
  sql: `
    -- One-time codes printed by \`threshold pair\`. Only a SHA-256 of each is kept (a code
    -- has 50 random bits and lives 10 minutes: a slow hash would add nothing).
    CREATE TABLE ui_pairing_codes (
      id           INTEGER PRIMARY KEY,
      code_sha256  TEXT NOT NULL UNIQUE,
      created_at   INTEGER NOT NULL,
      expires_at   INTEGER NOT NULL,
      used_at      INTEGER
    );

    -- Browsers paired with the page. The cookie holds a random token; only its SHA-256 is
    -- kept, so a copy of the database opens no session. Revoking deletes the row.
    CREATE TABLE ui_sessions (
      id            INTEGER PRIMARY KEY,
      token_sha256  TEXT NOT NULL UNIQUE,
      label         TEXT NOT NULL,
      created_at    INTEGER NOT NULL,
      last_seen_at  INTEGER NOT NULL,
      expires_at    INTEGER NOT NULL
    );

    -- The owner's policy as changed on the page (one row, the changed keys as JSON): it
    -- overrides the configuration file key by key (DESIGN.md, "Configuration").
    CREATE TABLE owner_policy (
      id          INTEGER PRIMARY KEY CHECK (id = 1),
      overrides   TEXT NOT NULL,
      updated_at  INTEGER NOT NULL
    );
  `,
};
