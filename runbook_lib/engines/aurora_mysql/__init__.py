"""Aurora MySQL clusters: what differs from an RDS for MySQL instance (readiness rules, cluster facts)."""
