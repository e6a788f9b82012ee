"""One error funnel for both command lines: the lab app and ``arz`` print the same one line.

The funnel is :func:`kernel_payload.schema.errors.report_error`; these tests drive it directly and
through both real CLIs (typer's CliRunner), with errors the user can actually cause.
"""

from __future__ import annotations

import io

from typer.testing import CliRunner

from kernel_payload.schema.errors import BadInput, report_error

runner = CliRunner()


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_report_error_prints_one_line_and_gives_the_code(monkeypatch, capsys):
    err = BadInput("unknown level 'x'", fix="use quick", key="--level")
    assert report_error(err) == 2
    assert capsys.readouterr().err == "error: --level: unknown level 'x' Fix: use quick\n"
    assert report_error(KeyboardInterrupt()) == 130
    assert capsys.readouterr().err == "interrupted\n"
    assert report_error(ValueError("a bug")) is None  # a bug: nothing printed, caller re-raises
    assert capsys.readouterr().err == ""


def test_report_error_colours_only_a_terminal(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    tty = _Tty()
    monkeypatch.setattr("sys.stderr", tty)
    assert report_error(BadInput("bad", key="--out")) == 2
    assert tty.getvalue() == "\x1b[1;31merror:\x1b[0m --out: bad\n"
    monkeypatch.setenv("NO_COLOR", "1")
    plain = _Tty()
    monkeypatch.setattr("sys.stderr", plain)
    report_error(BadInput("bad", key="--out"))
    assert plain.getvalue() == "error: --out: bad\n"


def _lab_app():
    from kernel_payload.cli.app import app

    return app


def _arz_app():
    from orchestrator.cli import app

    return app


def _one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    assert result.stdout == "" and "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_lab_and_arz_print_the_same_line_for_the_same_bad_input(tmp_path, monkeypatch):
    monkeypatch.setenv("ARZ_HOME", str(tmp_path / "arz-home"))
    args = ["verify", "--level", "nope"]
    lab = _one_error_line(runner.invoke(_lab_app(), args))
    forwarded = _one_error_line(runner.invoke(_arz_app(), args))  # through arz's forwarder
    assert lab == forwarded and lab.startswith("error: --level: unknown level 'nope'")
    job = _one_error_line(runner.invoke(_arz_app(), ["status", "arz-nothing"]))  # arz's own
    assert job.startswith("error: no job 'arz-nothing' in the registry")
