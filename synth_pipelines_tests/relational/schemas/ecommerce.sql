-- An online shop (PostgreSQL): customers with a home address and coordinates, products and categories,
-- orders with their own shipping address, order lines priced from their product, reviews with ratings,
-- stores with a currency and timezone. Issue #19: every rule its names imply is counted with 0 violations.
CREATE TABLE categories (
    category_id   INTEGER PRIMARY KEY,
    name          VARCHAR(60) NOT NULL UNIQUE
);

CREATE TABLE stores (
    store_id      INTEGER PRIMARY KEY,
    name          VARCHAR(80) NOT NULL,
    city          VARCHAR(60) NOT NULL,
    region        VARCHAR(60),
    country_code  CHAR(2) NOT NULL,
    currency      CHAR(3) NOT NULL,
    timezone      VARCHAR(40) NOT NULL,
    latitude      NUMERIC(9, 6),
    longitude     NUMERIC(9, 6),
    opened_year   SMALLINT
);

CREATE TABLE customers (
    customer_id   INTEGER PRIMARY KEY,
    first_name    VARCHAR(40) NOT NULL,
    last_name     VARCHAR(40) NOT NULL,
    email         VARCHAR(120) NOT NULL UNIQUE,
    age           SMALLINT CHECK (age >= 0),
    phone         VARCHAR(24),
    street        VARCHAR(120),
    city          VARCHAR(60),
    state         VARCHAR(60),
    postal_code   VARCHAR(12),
    country       VARCHAR(60),
    registered_at TIMESTAMP NOT NULL
);

CREATE TABLE products (
    product_id    INTEGER PRIMARY KEY,
    sku           VARCHAR(16) NOT NULL UNIQUE,
    name          VARCHAR(120) NOT NULL,
    category_id   INTEGER NOT NULL REFERENCES categories (category_id),
    price         NUMERIC(10, 2) NOT NULL CHECK (price > 0),
    discount_pct  NUMERIC(5, 2) CHECK (discount_pct BETWEEN 0 AND 100),
    release_year  SMALLINT,
    created_at    TIMESTAMP NOT NULL
);

CREATE TABLE orders (
    order_id          INTEGER PRIMARY KEY,
    customer_id       INTEGER NOT NULL REFERENCES customers (customer_id),
    store_id          INTEGER REFERENCES stores (store_id),
    ordered_at        TIMESTAMP NOT NULL,
    shipped_at        TIMESTAMP,
    delivered_at      TIMESTAMP,
    shipping_city     VARCHAR(60),
    shipping_country  VARCHAR(60),
    total             NUMERIC(12, 2) NOT NULL CHECK (total >= 0)
);

CREATE TABLE order_items (
    order_item_id INTEGER PRIMARY KEY,
    order_id      INTEGER NOT NULL REFERENCES orders (order_id),
    product_id    INTEGER NOT NULL REFERENCES products (product_id),
    unit_price    NUMERIC(10, 2) NOT NULL CHECK (unit_price > 0),
    quantity      INTEGER NOT NULL CHECK (quantity > 0)
);

CREATE TABLE product_reviews (
    review_id     INTEGER PRIMARY KEY,
    product_id    INTEGER NOT NULL REFERENCES products (product_id),
    customer_id   INTEGER NOT NULL REFERENCES customers (customer_id),
    rating        SMALLINT NOT NULL CHECK (rating BETWEEN 1 AND 5),
    title         VARCHAR(120),
    body          TEXT,
    created_at    TIMESTAMP NOT NULL
);
