"""Running a drill's commands on the estate's hosts over SSH (strict host keys, batch mode).

Scripts travel as ``sh -c`` arguments and must hold no secret: a secret goes on stdin
(``input_text``), which no process listing shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from egov.errors import CommandFailed, DrillError
from egov.execute import run_command
from egov.inventory.model import Estate, HostRef
from egov.ssh import make_ssh_command

OUTPUT_TAIL_CHARS = 600


@dataclass(frozen=True)
class Remote:
    """Runs shell scripts on the hosts of one estate."""

    estate: Estate

    def run(
        self,
        ref: HostRef,
        script: str,
        *,
        timeout_seconds: float = 120.0,
        input_text: str | None = None,
    ) -> str:
        """Run ``script`` on ``ref``, return its stdout; DrillError naming the host on failure."""
        argv = make_ssh_command(self.estate, ref, ["sh", "-c", script])
        try:
            result = run_command(argv, input_text=input_text, timeout_seconds=timeout_seconds)
        except CommandFailed as error:
            tail = error.stderr_tail.strip()[-OUTPUT_TAIL_CHARS:]
            raise DrillError(f"on {ref.selector}: {tail or f'exit {error.returncode}'}") from None
        return result.stdout

    def is_reachable(self, ref: HostRef, timeout_seconds: float = 15.0) -> bool:
        """Whether ``ref`` answers over SSH."""
        argv = make_ssh_command(self.estate, ref, ["true"])
        try:
            run_command(argv, timeout_seconds=timeout_seconds)
        except CommandFailed:
            return False
        return True

    def psql(self, ref: HostRef, sql: str, database: str = "postgres", timeout: float = 60) -> str:
        """One SQL statement as the postgres superuser on ``ref`` (peer auth), unaligned."""
        script = f"runuser -u postgres -- psql -XtAq -v ON_ERROR_STOP=1 -d {database} -f -"
        return self.run(ref, script, input_text=sql + "\n", timeout_seconds=timeout).strip()
