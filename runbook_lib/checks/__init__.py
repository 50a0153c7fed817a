"""Checks the runbook makes against live databases, one job per module: `consistency` compares blue and
green chunk by chunk at matching replication points (later also source readiness and the switchover
guardrails). Each takes its connections from the caller and returns a result the step record can keep."""
