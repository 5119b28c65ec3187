-- A digital music store modelled on the public Chinook sample (PostgreSQL): the acceptance schema of
-- issue #19 (lookup tables, entity and event tables, invoice totals and their lines, an org chart).
CREATE TABLE genres (
    genre_id    INTEGER PRIMARY KEY,
    name        VARCHAR(120) NOT NULL UNIQUE
);

CREATE TABLE media_types (
    media_type_id INTEGER PRIMARY KEY,
    name          VARCHAR(120) NOT NULL UNIQUE
);

CREATE TABLE artists (
    artist_id   INTEGER PRIMARY KEY,
    name        VARCHAR(120) NOT NULL
);

CREATE TABLE albums (
    album_id    INTEGER PRIMARY KEY,
    title       VARCHAR(160) NOT NULL,
    artist_id   INTEGER NOT NULL REFERENCES artists (artist_id)
);

CREATE TABLE tracks (
    track_id      INTEGER PRIMARY KEY,
    name          VARCHAR(200) NOT NULL,
    album_id      INTEGER REFERENCES albums (album_id),
    media_type_id INTEGER NOT NULL REFERENCES media_types (media_type_id),
    genre_id      INTEGER REFERENCES genres (genre_id),
    composer      VARCHAR(220),
    milliseconds  INTEGER NOT NULL CHECK (milliseconds > 0),
    bytes         INTEGER CHECK (bytes > 0),
    unit_price    NUMERIC(10, 2) NOT NULL CHECK (unit_price >= 0)
);

CREATE TABLE employees (
    employee_id INTEGER PRIMARY KEY,
    last_name   VARCHAR(20) NOT NULL,
    first_name  VARCHAR(20) NOT NULL,
    title       VARCHAR(30),
    reports_to  INTEGER REFERENCES employees (employee_id),
    birth_date  DATE,
    hire_date   DATE,
    city        VARCHAR(40),
    country     VARCHAR(40),
    phone       VARCHAR(24),
    email       VARCHAR(60)
);

CREATE TABLE customers (
    customer_id    INTEGER PRIMARY KEY,
    first_name     VARCHAR(40) NOT NULL,
    last_name      VARCHAR(20) NOT NULL,
    company        VARCHAR(80),
    city           VARCHAR(40),
    country        VARCHAR(40),
    postal_code    VARCHAR(10),
    phone          VARCHAR(24),
    email          VARCHAR(60) NOT NULL,
    support_rep_id INTEGER REFERENCES employees (employee_id)
);

CREATE TABLE invoices (
    invoice_id       INTEGER PRIMARY KEY,
    customer_id      INTEGER NOT NULL REFERENCES customers (customer_id),
    invoice_date     TIMESTAMP NOT NULL,
    billing_city     VARCHAR(40),
    billing_country  VARCHAR(40),
    total            NUMERIC(10, 2) NOT NULL CHECK (total >= 0)
);

CREATE TABLE invoice_lines (
    invoice_line_id INTEGER PRIMARY KEY,
    invoice_id      INTEGER NOT NULL REFERENCES invoices (invoice_id),
    track_id        INTEGER NOT NULL REFERENCES tracks (track_id),
    unit_price      NUMERIC(10, 2) NOT NULL CHECK (unit_price >= 0),
    quantity        INTEGER NOT NULL CHECK (quantity > 0)
);

CREATE TABLE playlists (
    playlist_id INTEGER PRIMARY KEY,
    name        VARCHAR(120)
);

CREATE TABLE playlist_tracks (
    playlist_id INTEGER NOT NULL REFERENCES playlists (playlist_id),
    track_id    INTEGER NOT NULL REFERENCES tracks (track_id),
    PRIMARY KEY (playlist_id, track_id)
);
