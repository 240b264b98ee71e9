"""egov: infrastructure and disaster recovery for a provincial e-government data centre.

One YAML inventory describes the sites, servers, services, backup policy and recovery
targets; deploys, backups, monitoring, drills and the lab are derived from it.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("egov")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
