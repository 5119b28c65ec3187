-- Company: departments, employees with managers, projects, assignments and salary history.
-- Written for synth-pipelines (PostgreSQL dialect). departments.head_id and employees.department_id
-- form an FK cycle, closed by ALTER TABLE after both tables exist.

CREATE TYPE employment_type AS ENUM ('full_time', 'part_time', 'contractor', 'intern');

CREATE TABLE departments (
    department_id  SERIAL PRIMARY KEY,
    name           VARCHAR(80) NOT NULL UNIQUE,
    code           CHAR(4)     NOT NULL UNIQUE,
    budget         NUMERIC(12, 2) CHECK (budget > 0),
    head_id        INTEGER
);

CREATE TABLE employees (
    employee_id     SERIAL PRIMARY KEY,
    first_name      VARCHAR(50)  NOT NULL,
    last_name       VARCHAR(50)  NOT NULL,
    email           VARCHAR(254) NOT NULL UNIQUE,
    phone           VARCHAR(30),
    job_title       VARCHAR(100) NOT NULL,
    department_id   INTEGER      NOT NULL REFERENCES departments (department_id),
    manager_id      INTEGER      REFERENCES employees (employee_id),
    employment      employment_type NOT NULL DEFAULT 'full_time',
    hired_on        DATE         NOT NULL,
    left_on         DATE,
    salary          NUMERIC(10, 2) NOT NULL CHECK (salary BETWEEN 15000 AND 500000),
    CONSTRAINT employee_left_after_hired CHECK (left_on IS NULL OR left_on > hired_on),
    CONSTRAINT employee_not_own_manager CHECK (manager_id IS NULL OR manager_id <> employee_id)
);

ALTER TABLE departments
    ADD CONSTRAINT departments_head_fk FOREIGN KEY (head_id) REFERENCES employees (employee_id);

CREATE TABLE projects (
    project_id     SERIAL PRIMARY KEY,
    code           VARCHAR(12)  NOT NULL UNIQUE,
    title          VARCHAR(150) NOT NULL,
    department_id  INTEGER      NOT NULL REFERENCES departments (department_id),
    starts_on      DATE         NOT NULL,
    ends_on        DATE,
    budget         NUMERIC(12, 2) NOT NULL CHECK (budget >= 1000),
    CHECK (ends_on IS NULL OR ends_on >= starts_on)
);

CREATE TABLE assignments (
    employee_id  INTEGER  NOT NULL REFERENCES employees (employee_id),
    project_id   INTEGER  NOT NULL REFERENCES projects (project_id),
    role         VARCHAR(30) NOT NULL CHECK (role IN ('lead', 'engineer', 'analyst', 'designer', 'reviewer')),
    hours_per_week SMALLINT NOT NULL CHECK (hours_per_week BETWEEN 1 AND 40),
    PRIMARY KEY (employee_id, project_id)
);

CREATE TABLE salary_history (
    employee_id   INTEGER NOT NULL REFERENCES employees (employee_id),
    effective_on  DATE    NOT NULL,
    salary        NUMERIC(10, 2) NOT NULL CHECK (salary > 0),
    currency      CHAR(3) NOT NULL DEFAULT 'USD',
    PRIMARY KEY (employee_id, effective_on)
);
