"""Monitoring: the Prometheus, Alertmanager and blackbox configurations derived from the estate.

Builders here are pure (Estate in, plain data out); ``egov/deploys/monitoring.py`` uploads
what they return.
"""
