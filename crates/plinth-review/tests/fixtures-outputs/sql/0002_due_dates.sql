ALTER TABLE tasks ADD COLUMN due_at timestamptz NOT NULL;

CREATE INDEX tasks_owner_id ON tasks (owner_id);
