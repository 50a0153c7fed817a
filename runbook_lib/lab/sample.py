"""The lab's sample application: a small shop schema with primary keys, a view and a routine."""

from __future__ import annotations

APP_SCHEMA = "shop"

# One statement per entry; {definer} is the master user, as objects created by the application are.
SCHEMA_SQL = [
    f"CREATE DATABASE {APP_SCHEMA} DEFAULT CHARACTER SET utf8mb4",
    f"USE {APP_SCHEMA}",
    f"""CREATE TABLE {APP_SCHEMA}.customers (
        id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(200) NOT NULL,
        created_at DATETIME NOT NULL, UNIQUE KEY (email)) ENGINE=InnoDB""",
    f"""CREATE TABLE {APP_SCHEMA}.products (
        id INT PRIMARY KEY, sku VARCHAR(32) NOT NULL, price DECIMAL(10,2) NOT NULL) ENGINE=InnoDB""",
    f"""CREATE TABLE {APP_SCHEMA}.orders (
        id INT PRIMARY KEY, customer_id INT NOT NULL, product_id INT NOT NULL, quantity INT NOT NULL,
        ordered_at DATETIME NOT NULL, KEY (customer_id),
        CONSTRAINT fk_orders_customer FOREIGN KEY (customer_id) REFERENCES {APP_SCHEMA}.customers (id),
        CONSTRAINT fk_orders_product FOREIGN KEY (product_id) REFERENCES {APP_SCHEMA}.products (id)
        ) ENGINE=InnoDB""",
    f"""INSERT INTO {APP_SCHEMA}.customers SELECT seq, CONCAT('customer ', seq),
        CONCAT('c', seq, '@example.com'), '2024-01-01' + INTERVAL seq MINUTE FROM seq_1_to_2000""",
    f"""INSERT INTO {APP_SCHEMA}.products SELECT seq, CONCAT('SKU-', LPAD(seq, 5, '0')),
        ROUND(1 + (seq * 37 % 500) / 3, 2) FROM seq_1_to_200""",
    f"""INSERT INTO {APP_SCHEMA}.orders SELECT seq, 1 + (seq * 7919 % 2000), 1 + (seq * 104729 % 200),
        1 + seq % 5, '2024-02-01' + INTERVAL seq MINUTE FROM seq_1_to_6000""",
    f"""CREATE DEFINER={{definer}} SQL SECURITY DEFINER VIEW {APP_SCHEMA}.customer_totals AS
        SELECT c.id, c.name, COUNT(o.id) AS orders, COALESCE(SUM(o.quantity * p.price), 0) AS spent
        FROM {APP_SCHEMA}.customers c LEFT JOIN {APP_SCHEMA}.orders o ON o.customer_id = c.id
        LEFT JOIN {APP_SCHEMA}.products p ON p.id = o.product_id GROUP BY c.id, c.name""",
    f"""CREATE DEFINER={{definer}} FUNCTION {APP_SCHEMA}.order_count(cid INT) RETURNS INT
        READS SQL DATA RETURN (SELECT COUNT(*) FROM {APP_SCHEMA}.orders WHERE customer_id = cid)""",
]

# A real 5.7 -> 8.0 blocker: a view calling PASSWORD(), which 8.0 removed (removedFunctionsCheck).
BLOCKER_SQL = [
    f"""CREATE DEFINER={{definer}} SQL SECURITY DEFINER VIEW {APP_SCHEMA}.legacy_login_hashes AS
        SELECT id, PASSWORD(email) AS hash FROM {APP_SCHEMA}.customers""",
]
# The fix the workshop applies on blue (it replicates to green): the same view with SHA2().
BLOCKER_FIX_SQL = [
    f"""CREATE OR REPLACE DEFINER={{definer}} SQL SECURITY DEFINER VIEW {APP_SCHEMA}.legacy_login_hashes AS
        SELECT id, SHA2(email, 256) AS hash FROM {APP_SCHEMA}.customers""",
]


def statements(master_user: str, with_blocker: bool) -> list[str]:
    definer = f"`{master_user}`@`%`"
    chosen = SCHEMA_SQL + (BLOCKER_SQL if with_blocker else [])
    return [s.format(definer=definer) for s in chosen]
