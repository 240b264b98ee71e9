"""The estate's internal certificate authority: ``egov pki``.

The inter-site links are the estate's trust boundary, so every TLS connection between hosts
will be verified against one CA per estate (issue 15). This package holds that CA, and only
what exists today: the CA itself (``authority.py``), the names a host's certificate carries
(``names.py``), the index of what was issued (``index.py``), the revocation list
(``revocation.py``), where all of it lives on the control node (``store.py``), the commands
composed from them (``actions.py``), and what a host runs to make its own key and request
(``hostkey.py``). The CA key never leaves the control node; a host's key never reaches it.
"""
