"""``egov pki …``: the estate's internal CA (``egov/pki/``): init, issue, list, revoke, crl.

Only certificates, CSRs and CRLs pass through here; the CA key is read by ``egov/pki/store.py``
and never printed. ``issue`` and ``crl`` write PEM to stdout or ``-o FILE``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from egov.cli.app import (
    InventoryOption,
    OutputFormat,
    OutputOption,
    app,
    load_inventory,
    print_json,
    stderr,
    stdout,
)
from egov.errors import InputError
from egov.outputfile import write_output_text

if TYPE_CHECKING:
    from egov.pki.actions import Listing
    from egov.pki.index import RevocationReason

pki_app = typer.Typer(
    help="The estate's internal CA: make it, sign hosts' CSRs, list, revoke, the CRL.",
    no_args_is_help=True,
)
app.add_typer(pki_app, name="pki")

OutputFileOption = Annotated[
    Path | None,
    typer.Option(
        "--output-file", "-o", help="Write the PEM here (default: stdout).", show_default=False
    ),
]


def _check_output(path: Path | None) -> None:
    """Refuse an output path that cannot be written before the CA changes (exit 2): a
    certificate signed and recorded but never handed out helps nobody."""
    if path is None:
        return
    if not path.parent.is_dir():
        raise InputError(
            f"{path}: cannot write: the directory {path.parent} does not exist",
            f"create {path.parent} first, or give a path in an existing directory",
        )
    if path.is_dir():
        raise InputError(f"{path}: cannot write: is a directory", "give a file name")


def _emit(pem: bytes, path: Path | None) -> None:
    text = pem.decode("ascii")
    if path is None:
        sys.stdout.write(text)
    else:
        write_output_text(path, text)


@pki_app.command("init")
def pki_init(
    inventory: InventoryOption = None,
    days: Annotated[
        int | None,
        typer.Option(
            "--days", help="The CA's validity in days (default: 3650).", show_default=False
        ),
    ] = None,
) -> None:
    """Make the estate's CA on this control node (refused when it has one)."""
    from egov.pki.actions import run_init

    made = run_init(load_inventory(inventory).estate, days)
    stdout.print(
        f"CA made in {made.directory}: {made.certificate.subject.rfc4514_string()}, "
        f"valid until {made.certificate.not_valid_after_utc:%Y-%m-%d}",
        markup=False,
        soft_wrap=True,
    )


@pki_app.command("issue")
def pki_issue(
    host: Annotated[str, typer.Argument(help="The host: site/host or site-host.")],
    csr: Annotated[Path, typer.Option("--csr", help="The CSR the host made (PEM or DER).")],
    inventory: InventoryOption = None,
    days: Annotated[
        int | None,
        typer.Option("--days", help="Validity in days (default: 90).", show_default=False),
    ] = None,
    output_file: OutputFileOption = None,
) -> None:
    """Sign a host's CSR with the names the inventory gives the host (not the CSR's)."""
    from egov.inventory.selectors import resolve_host
    from egov.pki.actions import run_issue

    estate = load_inventory(inventory).estate
    ref = resolve_host(estate, host)
    _check_output(output_file)
    issued = run_issue(estate, ref, csr, days)
    _emit(issued.pem, output_file)
    stderr.print(
        f"issued {issued.entry.serial} to {issued.entry.host} "
        f"({', '.join(issued.entry.names)}) until {issued.entry.not_after:%Y-%m-%d}",
        markup=False,
        soft_wrap=True,
    )


@pki_app.command("list")
def pki_list(inventory: InventoryOption = None, output: OutputOption = OutputFormat.TEXT) -> None:
    """Every certificate issued, with its days left and status, and the CA's own expiry."""
    from egov.pki.actions import get_listing

    listing = get_listing(load_inventory(inventory).estate)
    if output is OutputFormat.JSON:
        print_json(_listing_json(listing))
        return
    stdout.print(
        f"CA {listing.ca_subject}: until {listing.ca_not_after:%Y-%m-%d} "
        f"({listing.get_days_left(listing.ca_not_after)} days left)",
        markup=False,
        soft_wrap=True,
    )
    if not listing.certificates:
        stdout.print("no certificate issued yet")
        return
    # one line per certificate, never cut: the serial is what `egov pki revoke` takes
    width = max(len(entry.host) for entry in listing.certificates)
    stdout.print(f"{'host':<{width}}  {'status':<10}  not after   days  serial", markup=False)
    for entry in listing.certificates:
        days_left = listing.get_days_left(entry.not_after)
        stdout.print(
            f"{entry.host:<{width}}  {entry.status.value:<10}  {entry.not_after:%Y-%m-%d}  "
            f"{days_left:>4}  {entry.serial}",
            markup=False,
            soft_wrap=True,
        )


def _listing_json(listing: Listing) -> dict[str, object]:
    return {
        "directory": str(listing.directory),
        "ca": {
            "subject": listing.ca_subject,
            "not_after": listing.ca_not_after.isoformat(),
            "days_left": listing.get_days_left(listing.ca_not_after),
        },
        "certificates": [
            {
                **entry.model_dump(mode="json"),
                "days_left": listing.get_days_left(entry.not_after),
            }
            for entry in listing.certificates
        ],
    }


def _reason(value: str) -> RevocationReason:
    from egov.pki.index import RevocationReason

    try:
        return RevocationReason(value)
    except ValueError:
        choices = ", ".join(reason.value for reason in RevocationReason)
        raise InputError(
            f"--reason {value}: not a revocation reason", f"one of: {choices}"
        ) from None


@pki_app.command("revoke")
def pki_revoke(
    target: Annotated[
        str, typer.Argument(help="A serial (hex) or a host (its current certificate).")
    ],
    inventory: InventoryOption = None,
    reason: Annotated[
        str,
        typer.Option(
            "--reason",
            help="unspecified, key-compromise, superseded, cessation-of-operation, "
            "affiliation-changed.",
        ),
    ] = "unspecified",
) -> None:
    """Revoke a certificate and sign a new CRL (valid 7 days)."""
    from egov.pki.actions import run_revoke

    revoked = run_revoke(load_inventory(inventory).estate, target, _reason(reason))
    for entry in revoked.entries:
        stdout.print(
            f"revoked {entry.serial} of {entry.host} ({reason})", markup=False, soft_wrap=True
        )


@pki_app.command("crl")
def pki_crl(inventory: InventoryOption = None, output_file: OutputFileOption = None) -> None:
    """Sign a fresh CRL from the index (valid 7 days) and print or write it."""
    from egov.pki.actions import run_crl

    _check_output(output_file)
    _emit(run_crl(load_inventory(inventory).estate), output_file)
