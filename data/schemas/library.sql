-- Library management: who wrote, published, lent and reviewed which book.
-- Written for synth-pipelines (PostgreSQL dialect).

CREATE TYPE membership_tier AS ENUM ('basic', 'student', 'premium', 'staff');

CREATE TABLE authors (
    author_id     SERIAL PRIMARY KEY,
    first_name    VARCHAR(50)  NOT NULL,
    last_name     VARCHAR(50)  NOT NULL,
    birth_date    DATE,
    country_code  CHAR(2),
    bio           TEXT
);

CREATE TABLE publishers (
    publisher_id  SERIAL PRIMARY KEY,
    name          VARCHAR(120) NOT NULL UNIQUE,
    city          VARCHAR(80),
    country_code  CHAR(2)      NOT NULL,
    website       VARCHAR(200),
    founded_year  SMALLINT CHECK (founded_year BETWEEN 1450 AND 2025)
);

CREATE TABLE books (
    book_id        BIGSERIAL PRIMARY KEY,
    isbn           CHAR(13)      NOT NULL UNIQUE,
    title          VARCHAR(200)  NOT NULL,
    author_id      INTEGER       NOT NULL REFERENCES authors (author_id),
    publisher_id   INTEGER       REFERENCES publishers (publisher_id),
    published_date DATE,
    language       CHAR(2)       NOT NULL DEFAULT 'en',
    pages          INTEGER       CHECK (pages > 0 AND pages <= 5000),
    price          NUMERIC(8, 2) NOT NULL CHECK (price >= 0),
    copies         SMALLINT      NOT NULL DEFAULT 1 CHECK (copies BETWEEN 1 AND 50)
);

CREATE TABLE members (
    member_id   BIGSERIAL PRIMARY KEY,
    email       VARCHAR(254) NOT NULL UNIQUE,
    first_name  VARCHAR(50)  NOT NULL,
    last_name   VARCHAR(50)  NOT NULL,
    phone       VARCHAR(30),
    tier        membership_tier NOT NULL DEFAULT 'basic',
    joined_at   TIMESTAMP    NOT NULL,
    is_active   BOOLEAN      NOT NULL DEFAULT TRUE
);

CREATE TABLE loans (
    loan_id      BIGSERIAL PRIMARY KEY,
    book_id      BIGINT    NOT NULL REFERENCES books (book_id),
    member_id    BIGINT    NOT NULL REFERENCES members (member_id),
    loaned_at    TIMESTAMP NOT NULL,
    due_date     DATE      NOT NULL,
    returned_at  TIMESTAMP,
    fine_amount  NUMERIC(6, 2) NOT NULL DEFAULT 0 CHECK (fine_amount >= 0),
    CONSTRAINT loan_returned_after_loaned CHECK (returned_at IS NULL OR returned_at >= loaned_at)
);

CREATE TABLE reviews (
    review_id   BIGSERIAL PRIMARY KEY,
    book_id     BIGINT   NOT NULL REFERENCES books (book_id),
    member_id   BIGINT   NOT NULL REFERENCES members (member_id),
    rating      SMALLINT NOT NULL CHECK (rating BETWEEN 1 AND 5),
    title       VARCHAR(120),
    body        TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    UNIQUE (book_id, member_id)
);

CREATE INDEX loans_member_idx ON loans (member_id);
COMMENT ON TABLE loans IS 'One row per lending of a physical copy.';
