"""The ``rooeft`` command table: every listed command module exists and registers, every command
module is listed, a missing or broken module is an error (never skipped silently), and an unknown
or missing command is a usage error with exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import rooeft.cli as cli

CLI_DIR = Path(cli.__file__).parent


def test_every_listed_module_registers_a_command() -> None:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    commands = set(sub.choices or ())
    assert len(commands) >= len(cli._COMMANDS)  # (a module may register more than one command)
    assert {"demo", "build", "fit", "scan", "config"} <= commands


def test_every_command_module_is_listed() -> None:
    modules = {f"rooeft.cli.{p.stem}" for p in CLI_DIR.glob("*.py") if not p.stem.startswith("_")}
    assert modules == set(cli._COMMANDS)


def test_missing_command_module_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_COMMANDS", (*cli._COMMANDS, "rooeft.cli.no_such_command"))
    with pytest.raises(ModuleNotFoundError, match="no_such_command"):
        cli.build_parser()


def test_broken_command_module_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "rooeft_broken_command.py").write_text("import rooeft_module_that_does_not_exist\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cli, "_COMMANDS", (*cli._COMMANDS, "rooeft_broken_command"))
    with pytest.raises(ModuleNotFoundError, match="rooeft_module_that_does_not_exist"):
        cli.build_parser()


def test_unknown_command_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["no-such-command"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'no-such-command'" in err and "usage: rooeft" in err


def test_missing_command_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    out = capsys.readouterr()
    assert "no COMMAND given" in out.err and out.out == ""


@pytest.mark.parametrize(("args", "code", "text"), [([], 2, "no COMMAND given"), (["bench"], 2, "invalid choice")])
def test_command_line_exit_codes(args: list[str], code: int, text: str) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "rooeft.cli", *args], capture_output=True, text=True, timeout=300, check=False
    )
    assert run.returncode == code, run.stderr
    assert text in run.stderr
