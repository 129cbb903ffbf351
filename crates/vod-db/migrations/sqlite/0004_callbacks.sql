-- Event-notification settings per app (SetMessageCallback). Deleting the app deletes them.
CREATE TABLE message_callbacks (
    account_id      TEXT   NOT NULL,
    app_id          TEXT   NOT NULL,
    callback_type   TEXT   NOT NULL,
    callback_url    TEXT   NOT NULL,
    event_type_list TEXT   NOT NULL,
    auth_switch     BIGINT NOT NULL,
    auth_key        TEXT   NOT NULL,
    mns_endpoint    TEXT   NOT NULL,
    mns_queue_name  TEXT   NOT NULL,
    created_at      BIGINT NOT NULL,
    modified_at     BIGINT NOT NULL,
    CONSTRAINT message_callbacks_pkey PRIMARY KEY (account_id, app_id),
    CONSTRAINT message_callbacks_app_fk FOREIGN KEY (account_id, app_id)
        REFERENCES apps (account_id, app_id) ON DELETE CASCADE
);
