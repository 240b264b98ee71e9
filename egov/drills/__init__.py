"""Failover drills: scenarios (``scenario``, ``loader``), the catalog of actions and probes,
the runner with its journal, lock and recovery, the canary's RPO, reports and results."""
