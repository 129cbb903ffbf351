-- Objects of the OSS-compatible endpoint. An object is one blob (Normal) or a manifest of
-- part blobs (Multipart, rows in oss_object_parts); multipart uploads in progress and their
-- parts. Blob names are paths inside the blob store; CRCs are u64 stored bit-for-bit as
-- signed 64-bit integers; times are unix milliseconds.
CREATE TABLE oss_objects (
    bucket        TEXT    NOT NULL,
    object_key    TEXT    NOT NULL,
    object_id     TEXT    NOT NULL UNIQUE,
    account_id    TEXT    NOT NULL,
    size          INTEGER NOT NULL,
    etag          TEXT    NOT NULL,
    md5_hex       TEXT,
    crc64         INTEGER NOT NULL,
    content_type  TEXT    NOT NULL,
    object_type   TEXT    NOT NULL,
    blob          TEXT,
    part_count    INTEGER NOT NULL,
    media_id      TEXT,
    created_at    INTEGER NOT NULL,
    notified      INTEGER NOT NULL,
    PRIMARY KEY (bucket, object_key)
);
CREATE INDEX oss_objects_unnotified_idx ON oss_objects (notified, created_at);

CREATE TABLE oss_object_parts (
    object_id    TEXT    NOT NULL REFERENCES oss_objects (object_id) ON DELETE CASCADE,
    part_number  INTEGER NOT NULL,
    blob         TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    start_offset INTEGER NOT NULL,
    PRIMARY KEY (object_id, part_number)
);

CREATE TABLE oss_uploads (
    upload_id     TEXT    PRIMARY KEY,
    bucket        TEXT    NOT NULL,
    object_key    TEXT    NOT NULL,
    account_id    TEXT    NOT NULL,
    content_type  TEXT    NOT NULL,
    media_id      TEXT,
    initiated_at  INTEGER NOT NULL
);
CREATE INDEX oss_uploads_key_idx ON oss_uploads (bucket, object_key, upload_id);

CREATE TABLE oss_upload_parts (
    upload_id      TEXT    NOT NULL REFERENCES oss_uploads (upload_id) ON DELETE CASCADE,
    part_number    INTEGER NOT NULL,
    blob           TEXT    NOT NULL,
    size           INTEGER NOT NULL,
    md5_hex        TEXT    NOT NULL,
    crc64          INTEGER NOT NULL,
    last_modified  INTEGER NOT NULL,
    PRIMARY KEY (upload_id, part_number)
);
