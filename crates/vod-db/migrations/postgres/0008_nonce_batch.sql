-- Nonce batches are tagged so the writer learns which nonces were new without
-- streaming one row back per nonce (see nonces.rs). Looked up through the primary key.
ALTER TABLE nonces ADD COLUMN batch TEXT;
