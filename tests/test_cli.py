"""Every command has help with an example and is documented in the README."""

import pytest

from conftest import ROOT, run_cli
from pipeline import build_parser

COMMANDS = sorted(build_parser()._subparsers._group_actions[0].choices)


def test_the_contract_commands_exist():
    assert {"demo", "run", "crawl", "analyse", "report", "history", "recheck"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_command_has_help_with_an_example_and_is_in_the_readme(command):
    result = run_cli(command, "--help")
    assert result.returncode == 0
    assert "example: python pipeline.py " + command in result.stdout
    assert f"`{command}" in (ROOT / "README.md").read_text()


def test_history_of_an_empty_database(tmp_path):
    from crawler import store
    store.open_store(tmp_path / "a.duckdb").close()
    result = run_cli("history", "--db", str(tmp_path / "a.duckdb"))
    assert result.returncode == 0 and "No crawls stored" in result.stdout
