-- Rules with two anchors and two paths: a charge falls between its stay's check-in and check-out (a lower
-- and an upper anchor through one foreign key), a stay after its guest registered and its room opened, and
-- a referral after both guests registered (two foreign keys to one parent, each named in its rule).
CREATE TABLE guests (
    guest_id SERIAL PRIMARY KEY,
    full_name VARCHAR(100) NOT NULL,
    email VARCHAR(120) NOT NULL UNIQUE,
    phone VARCHAR(20),
    country_code CHAR(2),
    registered_at TIMESTAMP NOT NULL
);

CREATE TABLE rooms (
    room_id SERIAL PRIMARY KEY,
    room_no VARCHAR(8) NOT NULL UNIQUE,
    opened_on DATE NOT NULL
);

CREATE TABLE stays (
    stay_id SERIAL PRIMARY KEY,
    guest_id INT NOT NULL REFERENCES guests (guest_id),
    room_id INT NOT NULL REFERENCES rooms (room_id),
    check_in TIMESTAMP NOT NULL,
    check_out TIMESTAMP
);

CREATE TABLE charges (
    charge_id SERIAL PRIMARY KEY,
    stay_id INT NOT NULL REFERENCES stays (stay_id),
    charged_at TIMESTAMP NOT NULL,
    amount NUMERIC(8, 2) NOT NULL CHECK (amount > 0)
);

CREATE TABLE night_audits (
    audit_id SERIAL PRIMARY KEY,
    stay_id INT NOT NULL REFERENCES stays (stay_id),
    audit_date DATE NOT NULL
);

CREATE TABLE referrals (
    referral_id SERIAL PRIMARY KEY,
    referrer_id INT NOT NULL REFERENCES guests (guest_id),
    referred_id INT NOT NULL REFERENCES guests (guest_id),
    created_at TIMESTAMP NOT NULL,
    CHECK (referrer_id <> referred_id)
);
