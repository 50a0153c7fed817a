"""PostgreSQL (RDS for PostgreSQL and Aurora PostgreSQL): the replication method RDS chooses, the
blue/green readiness rules, the guard during a deployment and the downtime probe."""
