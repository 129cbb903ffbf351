-- Transcode template groups (AddTranscodeTemplateGroup...). Built-in groups are not stored.
-- `templates` is the JSON array of the group's templates (TranscodeTemplateList objects with
-- their TranscodeTemplateId). Deleting the app deletes its groups and its default.
CREATE TABLE template_groups (
    group_id    TEXT   NOT NULL,
    account_id  TEXT   NOT NULL,
    app_id      TEXT   NOT NULL,
    name        TEXT   NOT NULL,
    locked      BIGINT NOT NULL,
    templates   TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    CONSTRAINT template_groups_pkey PRIMARY KEY (group_id),
    CONSTRAINT template_groups_app_fk FOREIGN KEY (account_id, app_id)
        REFERENCES apps (account_id, app_id) ON DELETE CASCADE
);
CREATE INDEX template_groups_app_idx ON template_groups (account_id, app_id, created_at);

-- The default group of each app (a stored group id or a built-in id): one row per app, so at
-- most one default per app; SetDefaultTranscodeTemplateGroup replaces it in one upsert.
CREATE TABLE template_group_defaults (
    account_id  TEXT   NOT NULL,
    app_id      TEXT   NOT NULL,
    group_id    TEXT   NOT NULL,
    modified_at BIGINT NOT NULL,
    CONSTRAINT template_group_defaults_pkey PRIMARY KEY (account_id, app_id),
    CONSTRAINT template_group_defaults_app_fk FOREIGN KEY (account_id, app_id)
        REFERENCES apps (account_id, app_id) ON DELETE CASCADE
);
