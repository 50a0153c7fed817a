"""What differs per database engine (checks, guards, probes), so the steps stay engine-neutral."""
