"""Console entry point: patch for gevent first when a command talks SSH to many hosts.

pyinfra connects to hosts in gevent greenlets; unless sockets are patched before anything
imports them, the connections run one after another (12 hosts: 1.0 s instead of 0.26 s).
Only the commands that drive pyinfra are patched, so the others keep plain threads.
"""

from __future__ import annotations

import sys

GEVENT_COMMANDS = frozenset({"deploy"})


def main() -> None:
    """Run the egov CLI."""
    if GEVENT_COMMANDS & set(sys.argv[1:]):
        from gevent import monkey

        monkey.patch_all()
    from egov.cli import main as cli_main

    cli_main()
