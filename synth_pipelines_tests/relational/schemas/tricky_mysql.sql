-- MySQL dialect: backticks, AUTO_INCREMENT, UNSIGNED, TINYINT(1), inline ENUM, DATETIME, KEY, ENGINE.
SET NAMES utf8mb4;
SET FOREIGN_KEY_CHECKS = 0;

CREATE TABLE `customers` (
  `id` INT UNSIGNED NOT NULL AUTO_INCREMENT,
  `email` VARCHAR(191) NOT NULL,
  `full_name` VARCHAR(100) NOT NULL,
  `is_vip` TINYINT(1) NOT NULL DEFAULT 0,
  `tier` ENUM('free','plus','pro') NOT NULL DEFAULT 'free',
  `signup_at` DATETIME NOT NULL,
  `country_code` CHAR(2) NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `uk_email` (`email`),
  KEY `ix_signup` (`signup_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='people who buy';

CREATE TABLE `products` (
  `sku` VARCHAR(12) NOT NULL,
  `title` VARCHAR(120) NOT NULL,
  `price` DECIMAL(10,2) NOT NULL,
  `stock` SMALLINT UNSIGNED NOT NULL DEFAULT 0,
  `weight` DOUBLE NULL,
  PRIMARY KEY (`sku`),
  CONSTRAINT `chk_price` CHECK (`price` >= 0.5)
) ENGINE=InnoDB;

CREATE TABLE `orders` (
  `id` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `customer_id` INT UNSIGNED NOT NULL,
  `status` ENUM('new','paid','shipped','cancelled') NOT NULL DEFAULT 'new',
  `placed_at` DATETIME NOT NULL,
  `shipped_at` DATETIME NULL,
  PRIMARY KEY (`id`),
  CONSTRAINT `fk_orders_customer` FOREIGN KEY (`customer_id`) REFERENCES `customers` (`id`) ON DELETE CASCADE,
  CONSTRAINT `chk_ship` CHECK (`shipped_at` IS NULL OR `shipped_at` >= `placed_at`)
) ENGINE=InnoDB;

CREATE TABLE `order_items` (
  `order_id` BIGINT UNSIGNED NOT NULL,
  `line_no` TINYINT UNSIGNED NOT NULL,
  `sku` VARCHAR(12) NOT NULL,
  `quantity` SMALLINT NOT NULL,
  PRIMARY KEY (`order_id`, `line_no`),
  UNIQUE KEY `uk_order_sku` (`order_id`, `sku`),
  CONSTRAINT `fk_items_order` FOREIGN KEY (`order_id`) REFERENCES `orders` (`id`),
  CONSTRAINT `fk_items_sku` FOREIGN KEY (`sku`) REFERENCES `products` (`sku`),
  CHECK (`quantity` BETWEEN 1 AND 99)
) ENGINE=InnoDB;

SET FOREIGN_KEY_CHECKS = 1;
