"""Small things a new user sees: no `<bool>` beside flags in any --help, one status column in `arz list`."""

from __future__ import annotations

import dataclasses

import pytest
from typer.testing import CliRunner

from orchestrator.backends.base import KernelRef
from orchestrator.cli import LAB_COMMANDS, app
from orchestrator.registry import JobRecord, Registry

runner = CliRunner()
JOB_COMMANDS = ["submit", "watch", "status", "list", "logs", "pull", "cancel", "doctor"]


@pytest.mark.parametrize("command", [[], *([c] for c in JOB_COMMANDS), *([c] for c in LAB_COMMANDS)])
def test_help_shows_no_type_beside_flags(command):
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output and "Usage" in result.output


def test_list_shows_one_status_column(arz_home):
    registry = Registry()
    for slug, status, result in (("arz-a-1", "succeeded", "succeeded"), ("arz-b-2", "failed", "partial")):
        record = JobRecord.new(KernelRef("local", slug, "local"), "a", "f" * 40, arz_home, "{}")
        registry.add(dataclasses.replace(record, status=status, result=result))
    listed = runner.invoke(app, ["list"], env={"COLUMNS": "160"})
    assert listed.exit_code == 0, listed.output
    header = next(line for line in listed.output.splitlines() if " id " in f" {line} ")
    assert header.split() == ["id", "backend", "status", "submitted", "(UTC)", "commit"]
    row = {line.split()[0]: line for line in listed.output.splitlines() if line.strip().startswith("arz-")}
    assert row["arz-a-1"].count("succeeded") == 1
    assert "partial (kernel failed)" in row["arz-b-2"]
