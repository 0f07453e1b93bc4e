"""The ``rooeft`` command table: every listed command module exists and registers, every command
module is listed, a missing or broken module is an error (never skipped silently), and an unknown
or missing command is a usage error with exit code 2. The output convention of every command
(``-o/--output FILE``, ``--output-dir DIR``), the refusal of ``-o`` by the commands that write a
directory, the top-level help and version, and that every documented ``rooeft`` line parses."""

from __future__ import annotations

import argparse
import importlib
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import rooeft.cli as cli
from rooeft.cli._io import DIR, FILE, OutputIsAFile

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


# --- the output convention: `-o/--output FILE` is a file, `--output-dir DIR` a directory ----------------------------

REPO = Path(__file__).resolve().parents[1]

#: commands that write a set of files into a directory (`--output-dir`; `-o` is refused there)
DIRECTORY_COMMANDS = {"demo", "generate", "plot", "posterior"}

#: directory options not yet named `--<what>-dir`, owned by other work in progress (issue 12)
PENDING: set[tuple[str, str]] = set()  # (command, option) pairs allowed to break the rule for now


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _long(action: argparse.Action) -> str:
    return max(action.option_strings, key=len)


def _convention_problems(command: str, parser: argparse.ArgumentParser) -> list[str]:
    """Every way ``command``'s options break the output convention (empty: none)."""
    problems: list[str] = []
    actions = [a for a in parser._actions if a.option_strings]
    names = {s for a in actions for s in a.option_strings}
    for a in actions:
        where = f"{command} {'/'.join(a.option_strings)}"
        text = (a.help or "").lower()
        if "-o" in a.option_strings or "--output" in a.option_strings:
            if a.option_strings != ["-o", "--output"]:
                problems.append(f"{where}: -o and --output go together, and mean the same file")
            elif isinstance(a, OutputIsAFile):
                if "--output-dir" not in names or a.help != argparse.SUPPRESS:
                    problems.append(f"{where}: the refusal of -o belongs to (hidden) commands with --output-dir")
            elif a.metavar not in (None, FILE) or "file" not in text or "director" in text or "folder" in text:
                problems.append(f"{where}: -o/--output names a file (metavar FILE, a help that says which file)")
        elif a.option_strings == ["--output-dir"]:
            if a.metavar != DIR or "director" not in text:
                problems.append(f"{where}: --output-dir is a directory (metavar DIR, a help that says so)")
        elif any(s.endswith("-dir") for s in a.option_strings) and a.metavar != DIR:
            problems.append(f"{where}: a --<what>-dir option has the metavar DIR")
        elif a.metavar == DIR and not _long(a).endswith(("-dir", "--workdir")) and (command, _long(a)) not in PENDING:
            problems.append(f"{where}: a directory option is called --<what>-dir")
    if ("--output-dir" in names) != (command in DIRECTORY_COMMANDS):
        problems.append(f"{command}: --output-dir exactly for the commands that write a directory")
    return problems


def test_every_command_follows_the_output_convention() -> None:
    commands = _commands()
    assert set(commands) >= DIRECTORY_COMMANDS
    problems = [p for name, parser in commands.items() for p in _convention_problems(name, parser)]
    assert not problems, "\n".join(problems)


def test_the_convention_check_catches_violations() -> None:
    bad = argparse.ArgumentParser(prog="rooeft bad")
    bad.add_argument("-o", "--output-dir", help="where everything is written")
    bad.add_argument("--plots", metavar=DIR, help="plots")
    bad.add_argument("--pool-dir", help="the pool")
    problems = "\n".join(_convention_problems("bad", bad))
    assert "bad -o/--output-dir: -o and --output go together" in problems
    assert "bad --plots: a directory option is called --<what>-dir" in problems
    assert "bad --pool-dir: a --<what>-dir option has the metavar DIR" in problems
    assert "bad: --output-dir exactly for the commands that write a directory" in problems
    old_plot = argparse.ArgumentParser(prog="rooeft plot")
    old_plot.add_argument("-o", "--output", metavar=DIR, help="output directory")
    problems = "\n".join(_convention_problems("plot", old_plot))
    assert "plot -o/--output: -o/--output names a file" in problems
    assert "plot: --output-dir exactly for the commands that write a directory" in problems


def _positionals(parser: argparse.ArgumentParser) -> list[str]:
    return ["x.json" for a in parser._actions if not a.option_strings and a.required]


@pytest.mark.parametrize("command", sorted(DIRECTORY_COMMANDS))
@pytest.mark.parametrize("flag", ["-o", "--output", "--output="])
def test_old_output_flag_of_a_directory_command_is_a_usage_error(
    command: str, flag: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "my out"
    option = [f"{flag}{target}"] if flag.endswith("=") else [flag, str(target)]
    argv = [command, *_positionals(_commands()[command]), *option]
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"rooeft {command}: error: {flag.rstrip('=')} names a file in every rooeft command" in err
    assert f"use --output-dir '{target}'" in err  # the replacement, ready to paste
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_every_command_has_a_one_line_help(capsys: pytest.CaptureFixture[str]) -> None:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {a.dest: a.help for a in sub._get_subactions()}
    assert set(helps) == set(sub.choices)
    assert all(h and "\n" not in h and not h.endswith(".") for h in helps.values()), helps
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert all(f"    {name}" in text for name in sub.choices)
    assert "-o/--output names a file" in " ".join(text.split())


@pytest.mark.parametrize("command", sorted(_commands()))
def test_help_of_every_command(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:  # (a stray % in a help text would fail here, not in a user's terminal)
        cli.main([command, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: rooeft {command} ")
    assert text.count(f"rooeft {command} ") >= 2  # the usage line, and an example to copy


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from rooeft import __version__

    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"rooeft {__version__}"


# --- every rooeft command line in the documentation parses ----------------------------------------------------------


def _shell_commands(text: str) -> list[str]:
    """The lines of the fenced shell blocks of a markdown text (continuation lines joined)."""
    lines: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        if line.startswith("```"):
            fence = line[3:].strip() if fence is None else None
        elif fence in ("", "bash", "sh", "console"):
            if lines and lines[-1].endswith("\\"):
                lines[-1] = lines[-1][:-1] + " " + line.strip()
            else:
                lines.append(line.strip())
    return lines


def _rooeft_argvs(line: str) -> list[list[str]]:
    """The argument lists of every ``rooeft`` call on a shell line (``a && b``, ``$(...)``, comments)."""
    lex = shlex.shlex(line, posix=True, punctuation_chars=True)
    lex.whitespace_split = True
    try:
        tokens = list(lex)
    except ValueError:  # not shell (a diagram, an error message)
        return []
    argvs: list[list[str]] = []
    current: list[str] = []
    for token in [*tokens, ";"]:
        if token and all(c in "();<>|&$" for c in token):
            if len(current) > 1 and Path(current[0]).name == "rooeft":
                argvs.append(current[1:])
            current = []
        else:
            current.append(token)
    return argvs


def _documented_commands() -> list[tuple[str, list[str]]]:
    found: list[tuple[str, list[str]]] = []
    for md in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for line in _shell_commands(md.read_text()):
            found += [(md.name, argv) for argv in _rooeft_argvs(line)]
    for name in cli._COMMANDS:  # the examples in the commands' descriptions (`rooeft COMMAND --help`)
        doc = importlib.import_module(name).__doc__ or ""
        lines = [line for line in _shell_commands(f"```\n{doc}\n```") if line.startswith("rooeft ")]
        found += [(name, argv) for line in lines for argv in _rooeft_argvs(line)]
    return found


def test_rooeft_argvs_of_a_shell_line() -> None:
    line = ".venv/bin/rooeft limits ws.root -o l.json && .venv/bin/rooeft plot s.json --output-dir p  # c"
    assert _rooeft_argvs(line) == [["limits", "ws.root", "-o", "l.json"], ["plot", "s.json", "--output-dir", "p"]]
    assert _rooeft_argvs("export L=$(rooeft config --library)") == [["config", "--library"]]
    assert _rooeft_argvs("root -l 'macros/fit.C(\"ws.root\")'") == []


def test_documented_command_lines_parse(capsys: pytest.CaptureFixture[str]) -> None:
    """Every `rooeft ...` line of README.md, docs/*.md and the commands' own examples is valid usage."""
    documented = _documented_commands()
    seen = {argv[0] for _, argv in documented}
    assert {"generate", "train", "build", "scan", "limits", "plot", "posterior", "demo"} <= seen
    parser = cli.build_parser()
    bad = []
    for where, argv in documented:
        try:
            parser.parse_args(argv)
        except SystemExit as err:
            if err.code != 0:
                bad.append(f"{where}: rooeft {shlex.join(argv)}: {capsys.readouterr().err.strip().splitlines()[-1]}")
    assert not bad, "\n".join(bad)
