-- CHECKs satisfied by construction (PostgreSQL): LIKE/ILIKE prefixes and suffixes, POSIX regexes, modulo
-- with bounds, date and timestamp bounds past the usual range, and a self-referencing junction with a <> b.
CREATE TABLE departments (
    department_id SERIAL PRIMARY KEY,
    name VARCHAR(60) NOT NULL,
    dept_code CHAR(4) NOT NULL UNIQUE CHECK (dept_code ~ '^[A-Z]{2}[0-9]{2}$')
);

CREATE TABLE courses (
    course_id SERIAL PRIMARY KEY,
    department_id INT NOT NULL REFERENCES departments (department_id),
    code VARCHAR(12) NOT NULL UNIQUE CHECK (code LIKE 'CS-%'),
    catalog_ref CHAR(8) NOT NULL CHECK (catalog_ref ~ '^[A-Z]{3}-[0-9]{4}$'),
    section VARCHAR(10) CHECK (section ~ '^S\d{1,3}[a-z]?$'),
    room VARCHAR(8) NOT NULL CHECK (room LIKE 'R_-%'),
    title VARCHAR(120) NOT NULL,
    syllabus_url VARCHAR(200) CHECK (syllabus_url LIKE 'https://%.pdf'),
    contact_email VARCHAR(80) CHECK (contact_email ILIKE '%@uni.example.org'),
    credits INT NOT NULL CHECK (credits % 3 = 0 AND credits BETWEEN 3 AND 12),
    pass_pct INT NOT NULL CHECK (pass_pct % 5 = 0 AND pass_pct >= 40 AND pass_pct <= 90),
    odd_seats SMALLINT CHECK (MOD(odd_seats, 2) = 1 AND odd_seats < 200),
    starts_on DATE NOT NULL CHECK (starts_on > '2030-01-01'),
    retired_on DATE CHECK (retired_on < '1999-12-31'),
    review_due TIMESTAMP CHECK (review_due >= '2031-06-01 00:00:00' AND review_due < '2032-01-01 00:00:00')
);

CREATE TABLE course_prerequisites (
    course_id INT NOT NULL REFERENCES courses (course_id),
    prereq_id INT NOT NULL REFERENCES courses (course_id),
    PRIMARY KEY (course_id, prereq_id),
    CHECK (course_id <> prereq_id)
);
