-- Restaurants: venues, menus, tables, reservations and orders.
-- Written for synth-pipelines (PostgreSQL dialect).

CREATE TABLE restaurants (
    restaurant_id  SERIAL PRIMARY KEY,
    name           VARCHAR(100) NOT NULL,
    city           VARCHAR(80)  NOT NULL,
    country_code   CHAR(2)      NOT NULL,
    phone          VARCHAR(30),
    cuisine        VARCHAR(20)  NOT NULL CHECK (cuisine IN ('italian', 'french', 'japanese', 'mexican', 'indian', 'thai', 'greek', 'american')),
    latitude       NUMERIC(9, 6) CHECK (latitude BETWEEN -90 AND 90),
    longitude      NUMERIC(9, 6) CHECK (longitude BETWEEN -180 AND 180),
    opened_on      DATE NOT NULL,
    timezone       VARCHAR(64)
);

CREATE TABLE menu_items (
    restaurant_id  INTEGER      NOT NULL REFERENCES restaurants (restaurant_id),
    item_no        SMALLINT     NOT NULL,
    name           VARCHAR(80)  NOT NULL,
    description    TEXT,
    price          NUMERIC(7, 2) NOT NULL CHECK (price > 0),
    is_vegetarian  BOOLEAN      NOT NULL DEFAULT FALSE,
    PRIMARY KEY (restaurant_id, item_no)
);

CREATE TABLE dining_tables (
    restaurant_id  INTEGER  NOT NULL REFERENCES restaurants (restaurant_id),
    table_no       SMALLINT NOT NULL,
    seats          SMALLINT NOT NULL CHECK (seats BETWEEN 1 AND 20),
    PRIMARY KEY (restaurant_id, table_no)
);

CREATE TABLE customers (
    customer_id  UUID PRIMARY KEY,
    full_name    VARCHAR(100) NOT NULL,
    email        VARCHAR(254) UNIQUE,
    phone        VARCHAR(30),
    created_at   TIMESTAMPTZ  NOT NULL
);

CREATE TABLE reservations (
    reservation_id    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    booking_reference CHAR(6)  NOT NULL UNIQUE,
    customer_id       UUID     NOT NULL REFERENCES customers (customer_id),
    restaurant_id     INTEGER  NOT NULL,
    table_no          SMALLINT NOT NULL,
    party_size        SMALLINT NOT NULL CHECK (party_size > 0),
    reserved_for      TIMESTAMP NOT NULL,
    status            VARCHAR(10) NOT NULL DEFAULT 'booked' CHECK (status IN ('booked', 'seated', 'cancelled', 'no_show')),
    FOREIGN KEY (restaurant_id, table_no) REFERENCES dining_tables (restaurant_id, table_no)
);

CREATE TABLE orders (
    order_id        BIGSERIAL PRIMARY KEY,
    reservation_id  BIGINT REFERENCES reservations (reservation_id),
    restaurant_id   INTEGER  NOT NULL,
    item_no         SMALLINT NOT NULL,
    quantity        SMALLINT NOT NULL CHECK (quantity BETWEEN 1 AND 20),
    amount          NUMERIC(9, 2) NOT NULL CHECK (amount >= 0),
    tip             NUMERIC(7, 2) CHECK (tip IS NULL OR tip >= 0),
    currency        CHAR(3) NOT NULL DEFAULT 'EUR',
    ordered_at      TIMESTAMP NOT NULL,
    FOREIGN KEY (restaurant_id, item_no) REFERENCES menu_items (restaurant_id, item_no)
);
