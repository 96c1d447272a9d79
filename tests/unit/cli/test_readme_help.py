"""README shows the CLI help as it is: regenerate with `python -m tools.readme_help`."""

from tools.readme_help import README, updated_readme


def test_readme_help_is_in_step_with_the_cli(monkeypatch):
    current = README.read_text()
    assert current == updated_readme(current), "README.md help is stale: run python -m tools.readme_help"
