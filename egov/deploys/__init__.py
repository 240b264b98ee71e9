"""pyinfra deploys, one module per role, driven by the inventory.

``site.py`` applies a host's roles in a fixed order; ``pyinfraapi.py`` owns the pyinfra API. The
same deploy code runs from the plain ``pyinfra`` CLI for debugging::

    EGOV_INVENTORY=inventory/lab.yaml pyinfra egov/deploys/pyinfra_inventory.py \\
        egov/deploys/site.py
"""
