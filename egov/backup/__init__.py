"""Backups: restic jobs on every host, replication between sites, retention, verification.

Pure builders and parsers (``restic``, ``datasets``, ``freshness``, ``night``, ``proposals``,
``plan``) sit apart from the few modules that run restic (``resticexec``) or talk to S3
(``repositories``). The agent's jobs (``datasetbackup``, ``replication``, ``verification``,
``retention``, ``restoretest``) share ``agent``'s settings and retries; the control node
starts them now (``ondemand``) and restores datasets (``datasetrestore``).
"""
