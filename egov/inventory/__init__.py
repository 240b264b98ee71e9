"""The inventory: the estate's model, loading with positioned errors, and the pyinfra bridge."""

from egov.inventory.loader import LoadedEstate, load_estate, resolve_inventory_path
from egov.inventory.model import Estate, HostRef

__all__ = ["Estate", "HostRef", "LoadedEstate", "load_estate", "resolve_inventory_path"]
