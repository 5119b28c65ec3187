-- Airline: airports, flights with departure and arrival, passengers and their bookings.
CREATE TABLE airports (
    airport_id  SERIAL PRIMARY KEY,
    iata        CHAR(3)      NOT NULL UNIQUE,
    city        VARCHAR(80)  NOT NULL,
    country_code CHAR(2)     NOT NULL,
    opened_on   DATE
);

CREATE TABLE flights (
    flight_id       BIGSERIAL PRIMARY KEY,
    flight_no       VARCHAR(8)  NOT NULL,
    origin_id       INTEGER     NOT NULL REFERENCES airports (airport_id),
    destination_id  INTEGER     NOT NULL REFERENCES airports (airport_id),
    departure_at    TIMESTAMP   NOT NULL,
    arrival_at      TIMESTAMP   NOT NULL,
    seats           SMALLINT    NOT NULL CHECK (seats BETWEEN 20 AND 600)
);

CREATE TABLE passengers (
    passenger_id    BIGSERIAL PRIMARY KEY,
    first_name      VARCHAR(50)  NOT NULL,
    last_name       VARCHAR(50)  NOT NULL,
    email           VARCHAR(254) NOT NULL UNIQUE,
    date_of_birth   DATE         NOT NULL,
    registered_at   TIMESTAMPTZ  NOT NULL
);

CREATE TABLE bookings (
    booking_id        BIGSERIAL PRIMARY KEY,
    booking_reference CHAR(6)   NOT NULL UNIQUE,
    flight_id         BIGINT    NOT NULL REFERENCES flights (flight_id),
    passenger_id      BIGINT    NOT NULL REFERENCES passengers (passenger_id),
    booked_at         TIMESTAMP NOT NULL,
    cancelled_at      TIMESTAMP,
    price             NUMERIC(8, 2) NOT NULL CHECK (price > 0)
);
