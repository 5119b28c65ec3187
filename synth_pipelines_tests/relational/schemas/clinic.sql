-- Clinic: doctors, patients, appointments and the prescriptions written at them.
CREATE TABLE doctors (
    doctor_id    SERIAL PRIMARY KEY,
    full_name    VARCHAR(100) NOT NULL,
    email        VARCHAR(254) NOT NULL UNIQUE,
    specialty    VARCHAR(40)  NOT NULL CHECK (specialty IN ('general', 'cardiology', 'dermatology', 'pediatrics')),
    hired_on     DATE         NOT NULL,
    birth_date   DATE         NOT NULL
);

CREATE TABLE patients (
    patient_id     BIGSERIAL PRIMARY KEY,
    first_name     VARCHAR(50)  NOT NULL,
    last_name      VARCHAR(50)  NOT NULL,
    email          VARCHAR(254) UNIQUE,
    username       VARCHAR(60)  NOT NULL UNIQUE,
    birth_date     DATE         NOT NULL,
    registered_at  TIMESTAMP    NOT NULL,
    notes          TEXT
);

CREATE TABLE appointments (
    appointment_id  BIGSERIAL PRIMARY KEY,
    patient_id      BIGINT    NOT NULL REFERENCES patients (patient_id),
    doctor_id       INTEGER   NOT NULL REFERENCES doctors (doctor_id),
    scheduled_at    TIMESTAMP NOT NULL,
    completed_at    TIMESTAMP,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP
);

CREATE TABLE prescriptions (
    prescription_id  BIGSERIAL PRIMARY KEY,
    appointment_id   BIGINT    NOT NULL REFERENCES appointments (appointment_id),
    drug             VARCHAR(80) NOT NULL,
    issued_at        TIMESTAMP NOT NULL,
    expires_on       DATE      NOT NULL,
    CHECK (expires_on > issued_at)
);
