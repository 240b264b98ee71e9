"""``python -m egov``: the same as the ``egov`` console script."""

from egov.entry import main

main()
