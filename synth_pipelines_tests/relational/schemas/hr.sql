-- Human resources (PostgreSQL): offices around the world, departments, employees with a manager, an office
-- and a job title, their salaries and performance reviews. Issue #19: every rule its names imply is
-- counted with 0 violations (adults, addresses that agree, coordinates near the office's city).
CREATE TABLE offices (
    office_id     INTEGER PRIMARY KEY,
    city          VARCHAR(60) NOT NULL,
    state_code    VARCHAR(3),
    country_code  CHAR(3) NOT NULL,
    postal_code   VARCHAR(12),
    phone         VARCHAR(24),
    time_zone     VARCHAR(40),
    lat           DOUBLE PRECISION,
    lng           DOUBLE PRECISION,
    founded_year  INTEGER
);

CREATE TABLE departments (
    department_id INTEGER PRIMARY KEY,
    name          VARCHAR(60) NOT NULL UNIQUE
);

CREATE TABLE employees (
    employee_id    INTEGER PRIMARY KEY,
    first_name     VARCHAR(40) NOT NULL,
    last_name      VARCHAR(40) NOT NULL,
    email          VARCHAR(120) NOT NULL UNIQUE,
    job_title      VARCHAR(60) NOT NULL,
    age            INTEGER,
    birth_year     INTEGER,
    department_id  INTEGER NOT NULL REFERENCES departments (department_id),
    office_id      INTEGER NOT NULL REFERENCES offices (office_id),
    manager_id     INTEGER REFERENCES employees (employee_id),
    home_city      VARCHAR(60),
    home_country   VARCHAR(60),
    mobile         VARCHAR(24),
    hired_on       DATE NOT NULL,
    left_on        DATE
);

CREATE TABLE salaries (
    salary_id     INTEGER PRIMARY KEY,
    employee_id   INTEGER NOT NULL REFERENCES employees (employee_id),
    amount        NUMERIC(10, 2) NOT NULL CHECK (amount > 0),
    currency      CHAR(3) NOT NULL,
    bonus_pct     NUMERIC(3, 2),
    starts_on     DATE NOT NULL,
    ends_on       DATE
);

CREATE TABLE performance_reviews (
    review_id     INTEGER PRIMARY KEY,
    employee_id   INTEGER NOT NULL REFERENCES employees (employee_id),
    reviewer_id   INTEGER REFERENCES employees (employee_id),
    rating        INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 10),
    score_pct     INTEGER CHECK (score_pct BETWEEN 0 AND 100),
    reviewed_on   DATE NOT NULL,
    comments      TEXT
);
