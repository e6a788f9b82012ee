"""The lab commands of ``arz`` (``simulate``, ``verify``, ``bench``, ``train``, ``evaluate``).

:mod:`~kernel_payload.cli.app` builds the typer app that ``arz`` forwards these commands to
(``kernel_payload.cli.app:app``, imported only when one of them runs: it pulls in numba);
:mod:`~kernel_payload.cli.lab` holds the solver commands, :mod:`~kernel_payload.cli.rl` the RL
ones, and :mod:`~kernel_payload.cli.common` what they share (the error funnel, progress bars,
tables). Imports point one way: ``app -> lab, rl -> common``.
"""
