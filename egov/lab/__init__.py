"""The lab: the inventory's sites built as systemd-nspawn containers on one machine.

The public API, for ``egov/cli.py``, tests and drills, is re-exported here; see each module for
the why. Nothing here prints or exits: errors are ``egov.errors`` classes, progress goes to a
``Progress`` object.
"""

from egov.lab.faults import (
    FAULT_KINDS,
    corrupt_file,
    cut_link,
    fill_filesystem,
    power_off_host,
    power_off_site,
    power_on_host,
    power_on_site,
    repair_file,
    restore_link,
    shape_link,
    start_service,
    stop_service,
    unfill_filesystem,
    unshape_link,
)
from egov.lab.image import ImageStatus, get_image_status, image_build, image_prune
from egov.lab.lifecycle import get_image_in_use, lab_down, lab_exec, lab_up
from egov.lab.overview import HostStatus, LabStatus, SiteStatus, lab_status
from egov.lab.paths import get_cache_dir, get_known_hosts_path, get_ssh_key_path, get_state_dir
from egov.lab.prerequisites import check_host_prerequisites
from egov.lab.progress import NoProgress, Progress
from egov.lab.spec import LabHost, LabSite, LabSpec, check_lab_spec
from egov.lab.ssh import ssh_argv
from egov.lab.state import Fault

__all__ = [
    "FAULT_KINDS",
    "Fault",
    "HostStatus",
    "ImageStatus",
    "LabHost",
    "LabSite",
    "LabSpec",
    "LabStatus",
    "NoProgress",
    "Progress",
    "SiteStatus",
    "check_host_prerequisites",
    "check_lab_spec",
    "corrupt_file",
    "cut_link",
    "fill_filesystem",
    "get_cache_dir",
    "get_image_in_use",
    "get_image_status",
    "get_known_hosts_path",
    "get_ssh_key_path",
    "get_state_dir",
    "image_build",
    "image_prune",
    "lab_down",
    "lab_exec",
    "lab_status",
    "lab_up",
    "power_off_host",
    "power_off_site",
    "power_on_host",
    "power_on_site",
    "repair_file",
    "restore_link",
    "shape_link",
    "ssh_argv",
    "start_service",
    "stop_service",
    "unfill_filesystem",
    "unshape_link",
]
