-- SQLite dialect: INTEGER PRIMARY KEY AUTOINCREMENT, TEXT everywhere, WITHOUT ROWID, length() CHECKs.
PRAGMA foreign_keys = ON;

CREATE TABLE folders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    parent_id INTEGER REFERENCES folders (id) ON DELETE CASCADE,
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 40),
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    folder_id INTEGER NOT NULL REFERENCES folders (id),
    title TEXT NOT NULL CHECK (length(title) <= 60),
    body TEXT,
    pinned BOOLEAN NOT NULL DEFAULT 0,
    priority INTEGER NOT NULL DEFAULT 3 CHECK (priority IN (1, 2, 3, 4, 5)),
    updated_at TIMESTAMP
);

CREATE TABLE note_labels (
    note_id INTEGER NOT NULL REFERENCES notes (id),
    label TEXT NOT NULL CHECK (label IN ('work', 'home', 'idea', 'todo')),
    PRIMARY KEY (note_id, label)
) WITHOUT ROWID;
