"""Backups: restic jobs on every host, replication between sites, retention, verification.

Pure builders and parsers (``restic``, ``datasets``, ``status``, ``plan``) sit apart from the
few modules that run restic (``runner``) or talk to S3 (``repositories``).
"""
