import type { Migration } from './index.js';

/** Community requests, the trust state, and the hash-chained audit log. */
export const requests: Migration = {
  version: 2,
  name: 'requests',
  sql: `
    -- A request that passed every check: pending (the owner is asked) or no_footage
    -- (recorded, never shown). Refused requests have no row: only an audit entry.
    CREATE TABLE requests (
      id                  TEXT PRIMARY KEY,
      state               TEXT NOT NULL
                          CHECK (state IN ('pending', 'no_footage', 'declined', 'shared', 'expired')),
      agency_id           TEXT NOT NULL,
      agency_name         TEXT NOT NULL,
      signing_key         TEXT NOT NULL,
      root_names          TEXT NOT NULL,
      investigation_code  TEXT NOT NULL,
      title               TEXT NOT NULL,
      description         TEXT NOT NULL,
      area_lat            REAL NOT NULL,
      area_lon            REAL NOT NULL,
      area_radius_m       REAL NOT NULL,
      window_start        INTEGER NOT NULL,
      window_end          INTEGER NOT NULL,
      issued_at           INTEGER NOT NULL,
      expires_at          INTEGER NOT NULL,
      recipient           TEXT NOT NULL,
      upload_url          TEXT NOT NULL,
      contact             TEXT,
      segment_ids         TEXT NOT NULL,
      received_at         INTEGER NOT NULL,
      decided_at          INTEGER,
      payload_sha256      TEXT NOT NULL,
      envelope            BLOB NOT NULL
    );
    CREATE INDEX requests_state ON requests(state, expires_at);
    CREATE INDEX requests_agency ON requests(agency_id, received_at);

    -- The highest revocation list seen (one row). Lower or equal versions are ignored.
    CREATE TABLE trust_revocations (
      id            INTEGER PRIMARY KEY CHECK (id = 1),
      version       INTEGER NOT NULL,
      issued_at     INTEGER NOT NULL,
      agency_ids    TEXT NOT NULL,
      signing_keys  TEXT NOT NULL,
      envelope      TEXT NOT NULL
    );

    -- Append-only, hash-chained: hash = SHA-256(prev || canonical fields). A request id
    -- is set only once the request's signature verified, so the log doubles as the
    -- table of authentic ids seen (duplicates), which a forger cannot write to.
    CREATE TABLE audit_log (
      seq         INTEGER PRIMARY KEY,
      time        INTEGER NOT NULL,
      kind        TEXT NOT NULL,
      request_id  TEXT,
      reason      TEXT,
      detail      TEXT,
      prev        TEXT NOT NULL,
      hash        TEXT NOT NULL
    );
    CREATE INDEX audit_log_request ON audit_log(request_id) WHERE request_id IS NOT NULL;
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
      BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
      BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
  `,
};
