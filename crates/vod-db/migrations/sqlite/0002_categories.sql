-- Media categories: a tree of up to three levels per account, product scope and type.
CREATE TABLE categories (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    scope TEXT NOT NULL,
    name TEXT NOT NULL,
    parent_id INTEGER NOT NULL,
    level INTEGER NOT NULL,
    cate_type TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX categories_parent_idx ON categories (account_id, scope, parent_id, cate_type, created_at);
-- Category ids look like Alibaba's (ten digits).
INSERT INTO sqlite_sequence (name, seq) VALUES ('categories', 1000000000);
