"""Running the runbook: run folders, the runner, one-run-at-a-time locks, what earlier runs recorded."""
