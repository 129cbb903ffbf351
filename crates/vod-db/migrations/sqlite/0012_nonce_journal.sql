-- SQLite keeps request nonces in the append-only journal beside the database file
-- (<database>-nonces/, see nonce_journal.rs), not in a table: a random-key B-tree dirtied a
-- page per request. PostgreSQL keeps its `nonces` table.
DROP TABLE nonces;
