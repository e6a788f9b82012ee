"""The lab app: ``arz simulate``, ``verify``, ``bench``, ``train`` and ``evaluate``.

The orchestrator forwards ``arz <command> ...`` here as ``app([command, *args])`` and imports
this module only then (``kernel_payload.cli.app:app``; it pulls in numba). Commands are thin:
they call :mod:`solver` or :mod:`rl` and print (:mod:`kernel_payload.cli.lab`,
:mod:`kernel_payload.cli.rl`).

Every name, path and option is checked before any work starts and before anything is written
(:mod:`kernel_payload.inputs`); errors reach exit codes through one funnel
(:func:`kernel_payload.cli.common.exit_codes`).
"""

from __future__ import annotations

import typer
from typer.core import TyperCommand

from kernel_payload.cli import lab, rl
from kernel_payload.cli.common import FlagHelpCommand

app = typer.Typer(name="arz", add_completion=False, no_args_is_help=True,
                  help="ARZ lab commands: simulate, verify, bench, train, evaluate.")  # fmt: skip

for _command in (lab.simulate, lab.verify, lab.bench, rl.train, rl.evaluate):
    app.command()(_command)
for _info in app.registered_commands:  # no `<bool>` beside flags in any --help
    _info.cls = FlagHelpCommand if _info.cls in (None, TyperCommand) else _info.cls
