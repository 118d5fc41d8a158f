"""Schema migrations, applied in order, each once, each in its own transaction.

Migrations are named, not only numbered, so that capabilities developed side by side can each
append theirs without colliding. Never edit a released migration: append a new one.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_core",
        """
        CREATE TABLE mentions (
            seq         INTEGER PRIMARY KEY,
            id          TEXT NOT NULL UNIQUE,
            source      TEXT NOT NULL,
            source_id   TEXT NOT NULL,
            created_us  INTEGER NOT NULL,
            author_key  TEXT,
            body        BLOB NOT NULL,
            scored      BLOB
        );
        CREATE INDEX mentions_created ON mentions (created_us);
        CREATE INDEX mentions_author ON mentions (author_key);

        CREATE TABLE cursors (
            source_id   TEXT PRIMARY KEY,
            cursor      TEXT,
            updated_at  REAL NOT NULL
        );

        CREATE TABLE checkpoints (
            name        TEXT PRIMARY KEY,
            seq         INTEGER NOT NULL,
            state       BLOB NOT NULL,
            updated_at  REAL NOT NULL
        );

        CREATE TABLE alerts (
            id          TEXT PRIMARY KEY,
            trigger     TEXT NOT NULL,
            kind        TEXT NOT NULL,
            subject     TEXT NOT NULL,
            channel     TEXT NOT NULL,
            severity    TEXT NOT NULL,
            opened_us   INTEGER NOT NULL,
            resolved_us INTEGER,
            body        BLOB NOT NULL
        );
        CREATE INDEX alerts_opened ON alerts (opened_us);
        CREATE INDEX alerts_open ON alerts (resolved_us) WHERE resolved_us IS NULL;

        CREATE TABLE outbox (
            seq             INTEGER PRIMARY KEY,
            key             TEXT NOT NULL UNIQUE,
            destination     TEXT NOT NULL,
            payload         BLOB NOT NULL,
            created_at      REAL NOT NULL,
            state           TEXT NOT NULL DEFAULT 'pending',
            attempts        INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL DEFAULT 0,
            last_error      TEXT,
            delivered_at    REAL
        );
        CREATE INDEX outbox_queue ON outbox (destination, state, seq);
        """,
    ),
    (
        "0003_silences",
        """
        CREATE TABLE silences (
            id          TEXT PRIMARY KEY,
            starts_us   INTEGER NOT NULL,
            ends_us     INTEGER NOT NULL,
            body        BLOB NOT NULL
        );
        CREATE INDEX silences_ends ON silences (ends_us);
        """,
    ),
    (
        # The influencer registry (sentineld.registry): one row per author seen in the stream.
        "0002_authors",
        """
        CREATE TABLE authors (
            key           TEXT PRIMARY KEY,
            source        TEXT NOT NULL,
            handle        TEXT,
            name          TEXT,
            followers     INTEGER,
            following     INTEGER,
            posts         INTEGER,
            created_us    INTEGER,
            first_seen_us INTEGER NOT NULL,
            last_seen_us  INTEGER NOT NULL,
            mentions      INTEGER NOT NULL,
            on_topic      INTEGER NOT NULL,
            engaged       INTEGER NOT NULL,
            sentiment_sum REAL NOT NULL,
            sentiment_n   INTEGER NOT NULL,
            maven_mass    REAL,
            reach         REAL,
            audience_mass REAL,
            connector     REAL NOT NULL,
            maven         REAL NOT NULL,
            influence     REAL NOT NULL,
            watchlist     INTEGER NOT NULL DEFAULT 0,
            own           INTEGER NOT NULL DEFAULT 0
        ) WITHOUT ROWID;
        CREATE INDEX authors_reach ON authors (reach);
        CREATE INDEX authors_maven ON authors (maven_mass);
        CREATE INDEX authors_watchlist ON authors (key) WHERE watchlist = 1;
        """,
    ),
    (
        # Cases (sentineld.cases): customers and the identities that name them across channels,
        # one case per customer issue, the mentions of each case, and alert acknowledgements.
        "0005_cases",
        """
        CREATE TABLE customers (
            id          TEXT PRIMARY KEY,
            name        TEXT,
            created_us  INTEGER NOT NULL
        );
        CREATE TABLE identities (
            key         TEXT PRIMARY KEY,
            customer    TEXT NOT NULL,
            author_key  TEXT,
            origin      TEXT NOT NULL,
            created_us  INTEGER NOT NULL
        );
        CREATE INDEX identities_customer ON identities (customer);
        CREATE TABLE cases (
            id                TEXT PRIMARY KEY,
            customer          TEXT NOT NULL,
            state             TEXT NOT NULL,
            severity          TEXT NOT NULL,
            opened_us         INTEGER NOT NULL,
            sla_due_us        INTEGER,
            first_response_us INTEGER,
            acknowledged_us   INTEGER,
            resolved_us       INTEGER,
            updated_us        INTEGER NOT NULL,
            body              BLOB NOT NULL
        );
        CREATE INDEX cases_state ON cases (state, sla_due_us);
        CREATE INDEX cases_customer ON cases (customer);
        CREATE TABLE case_mentions (
            mention_id  TEXT PRIMARY KEY,
            case_id     TEXT NOT NULL,
            role        TEXT NOT NULL,
            channel     TEXT NOT NULL,
            created_us  INTEGER NOT NULL,
            due_us      INTEGER,
            severity    TEXT,
            answered_by TEXT,
            answers     TEXT
        );
        CREATE INDEX case_mentions_case ON case_mentions (case_id, created_us);
        CREATE TABLE alert_acks (
            alert_id    TEXT PRIMARY KEY,
            at_us       INTEGER NOT NULL,
            by          TEXT NOT NULL,
            note        TEXT NOT NULL DEFAULT ''
        );
        """,
    ),
    (
        # Drafted replies (sentineld.responses) and their approval and posting.
        "0006_drafts",
        """
        CREATE TABLE drafts (
            id          TEXT PRIMARY KEY,
            created_at  REAL NOT NULL,
            state       TEXT NOT NULL,
            alert_id    TEXT,
            case_id     TEXT,
            mention_id  TEXT,
            channel     TEXT NOT NULL,
            responder   TEXT NOT NULL,
            template    TEXT NOT NULL,
            text        TEXT NOT NULL,
            meta        BLOB NOT NULL,
            approved_at REAL,
            approved_by TEXT,
            posted_at   REAL,
            remote_id   TEXT,
            attempts    INTEGER NOT NULL DEFAULT 0,
            error       TEXT
        );
        CREATE INDEX drafts_state ON drafts (state, created_at);
        CREATE INDEX drafts_case ON drafts (case_id);
        """,
    ),
    (
        # Every author seen is upserted into the registry as the stream goes, and an index on a
        # score is a random write per upsert (about half of the cost of writing an author row).
        # Ranking (`sentineld influencers`, the API) reads rarely: a scan of the table instead.
        "0007_authors_ranked_by_scan",
        """
        DROP INDEX authors_reach;
        DROP INDEX authors_maven;
        """,
    ),
    (
        # Cases resolved by hand, numbered in commit order: the daemon reads the ones after the
        # last it read and settles their mentions in the triggers that wait for an answer.
        "0008_case_resolutions",
        """
        CREATE TABLE case_resolutions (
            seq     INTEGER PRIMARY KEY,
            case_id TEXT NOT NULL,
            at_us   INTEGER NOT NULL
        );
        """,
    ),
    (
        # The open alerts' lifecycle records, one row each, written with the pipeline's
        # checkpoint (only the rows that changed), so that a checkpoint does not re-encode every
        # open alert. See docs/decisions/0214-open-alerts-in-bounded-memory.md.
        "0009_alert_conditions",
        """
        CREATE TABLE alert_conditions (
            trigger     TEXT NOT NULL,
            subject     TEXT NOT NULL,
            channel     TEXT NOT NULL,
            state       BLOB NOT NULL,
            PRIMARY KEY (trigger, subject, channel)
        ) WITHOUT ROWID;
        """,
    ),
    (
        # Scores are appended to a table of their own instead of rewriting the mention's row:
        # an UPDATE rewrote every page of the newest rows a second time (and split them as the
        # rows grew), twice the WAL writes of an append. `mentions` is now a view with the same
        # columns as the table it replaces, so every query (and anyone's SQL) reads as before;
        # scores stored before this migration stay in the old column and the view falls back
        # to them. See docs/decisions/0010-scores-appended-mentions-a-view.md.
        "0010_mention_scores_appended",
        """
        ALTER TABLE mentions RENAME TO mention_rows;
        CREATE TABLE mention_scores (
            seq     INTEGER PRIMARY KEY,
            scored  BLOB NOT NULL
        );
        CREATE VIEW mentions AS
            SELECT r.seq AS seq, r.id AS id, r.source AS source, r.source_id AS source_id,
                   r.created_us AS created_us, r.author_key AS author_key, r.body AS body,
                   coalesce(s.scored, r.scored) AS scored
            FROM mention_rows AS r LEFT JOIN mention_scores AS s ON s.seq = r.seq;
        """,
    ),
    (
        # Mentions are no longer indexed by author: an index led by a random key dirties a page
        # of its own per insert, and once it outgrows the page cache each insert reads one too
        # (ingest at 1M mentions: 22.6 -> 13.9 µs a row). The time index carries the author key
        # instead, so the rare queries by author (the API's filter, a customer's history) scan
        # it, a tenth of the table's width, instead of the table.
        # See docs/decisions/0011-no-index-led-by-author.md.
        "0011_mentions_time_index_carries_author",
        """
        DROP INDEX mentions_author;
        DROP INDEX mentions_created;
        CREATE INDEX mentions_created_author ON mention_rows (created_us, author_key);
        """,
    ),
    (
        # Deletions and edits reported by sources (sentineld.changes): when a mention was deleted
        # (its body is then redacted) or last edited (its body holds the new text). The row of
        # a deleted mention stays, as a tombstone: a re-delivered copy of the post is then
        # recognised by its id and not stored again. See docs/decisions/0314-edits-and-deletes.md.
        "0012_mention_deletions_and_edits",
        """
        ALTER TABLE mention_rows ADD COLUMN deleted_us INTEGER;
        ALTER TABLE mention_rows ADD COLUMN edited_us INTEGER;
        """,
    ),
    (
        # Component states checkpointed in parts (Component.snapshot_parts): a checkpoint
        # writes only the parts that changed, in its own transaction. A rowid table: the parts
        # are kilobytes, too wide for a WITHOUT ROWID table's b-tree.
        # See docs/decisions/0015-component-states-checkpointed-in-parts.md.
        "0013_checkpoint_parts",
        """
        CREATE TABLE checkpoint_parts (
            checkpoint  TEXT NOT NULL,
            component   TEXT NOT NULL,
            part        TEXT NOT NULL,
            state       BLOB NOT NULL,
            PRIMARY KEY (checkpoint, component, part)
        );
        """,
    ),
    (
        # Author rows leave out what the row itself says: the source is the key's part before
        # its first ':', the last sighting is the first of an author seen once, the audience
        # mass is usually the maven mass, the influence the larger of connector and maven. A
        # checkpoint rewrites a row per author seen since the last one, spread over the whole
        # table: fewer bytes per row are fewer pages written to the WAL and copied back, and
        # fewer to read. `authors` is now a view giving every value as the table did.
        # See docs/decisions/0133-narrower-author-rows.md.
        "0014_authors_narrower_rows",
        """
        CREATE TABLE author_rows (
            key           TEXT PRIMARY KEY,
            source        TEXT,
            handle        TEXT,
            name          TEXT,
            followers     INTEGER,
            following     INTEGER,
            posts         INTEGER,
            created_us    INTEGER,
            first_seen_us INTEGER NOT NULL,
            last_seen_us  INTEGER,
            mentions      INTEGER NOT NULL,
            on_topic      INTEGER NOT NULL,
            engaged       INTEGER NOT NULL,
            sentiment_sum REAL NOT NULL,
            sentiment_n   INTEGER NOT NULL,
            maven_mass    REAL,
            reach         REAL,
            audience_mass REAL,
            connector     REAL NOT NULL,
            maven         REAL NOT NULL,
            influence     REAL,
            watchlist     INTEGER NOT NULL DEFAULT 0,
            own           INTEGER NOT NULL DEFAULT 0
        ) WITHOUT ROWID;
        INSERT INTO author_rows
            SELECT key,
                   CASE WHEN substr(key, 1, instr(key, ':') - 1) = source THEN NULL ELSE source END,
                   handle, name, followers, following, posts, created_us, first_seen_us,
                   CASE WHEN last_seen_us = first_seen_us THEN NULL ELSE last_seen_us END,
                   mentions, on_topic, engaged, sentiment_sum, sentiment_n, maven_mass, reach,
                   CASE WHEN audience_mass = maven_mass THEN '' ELSE audience_mass END,
                   connector, maven,
                   CASE WHEN influence = (CASE WHEN connector > maven THEN connector ELSE maven END)
                        THEN NULL ELSE influence END,
                   watchlist, own
            FROM authors;
        DROP TABLE authors;
        CREATE INDEX author_rows_watchlist ON author_rows (key) WHERE watchlist = 1;
        CREATE VIEW authors AS
            SELECT key, coalesce(source, substr(key, 1, instr(key, ':') - 1)) AS source, handle,
                   name, followers, following, posts, created_us, first_seen_us,
                   coalesce(last_seen_us, first_seen_us) AS last_seen_us, mentions, on_topic,
                   engaged, sentiment_sum, sentiment_n, maven_mass, reach,
                   CASE WHEN typeof(audience_mass) = 'text' THEN maven_mass ELSE audience_mass END
                       AS audience_mass,
                   connector, maven,
                   coalesce(influence, CASE WHEN connector > maven THEN connector ELSE maven END)
                       AS influence,
                   watchlist, own
            FROM author_rows;
        """,
    ),
    (
        # See docs/decisions/0421-new-identities-staged.md: new identities go to a small table
        # that is folded into the large one in key order, so that a batch's random platform
        # keys do not each rewrite a leaf of the large key index. The view gives every row.
        "0015_identities_staged",
        """
        ALTER TABLE identities RENAME TO identity_rows;
        CREATE TABLE identities_recent (
            key         TEXT PRIMARY KEY,
            customer    TEXT NOT NULL,
            author_key  TEXT,
            origin      TEXT NOT NULL,
            created_us  INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE VIEW identities AS
            SELECT key, customer, author_key, origin, created_us FROM identity_rows
            UNION ALL
            SELECT key, customer, author_key, origin, created_us FROM identities_recent;
        """,
    ),
]
