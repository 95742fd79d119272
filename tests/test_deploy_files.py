"""The deployment files parse and start only commands cityops really has."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from cityops.cli.main import app

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def _commands() -> list[list[str]]:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text("utf-8"))
    found = [s["command"] for s in compose["services"].values() if "command" in s]
    for document in yaml.safe_load_all((DEPLOY / "k8s" / "cityops.yaml").read_text("utf-8")):
        for container in (
            document.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
        ):
            found.append(container["command"])
    return [c for c in found if c[0] == "cityops"]


def test_every_cityops_command_in_the_deployment_files_exists() -> None:
    commands = _commands()
    assert {tuple(c) for c in commands} >= {("cityops", "worker"), ("cityops", "intake", "mqtt")}
    for command in commands:
        result = CliRunner().invoke(app, [*command[1:], "--help"])
        assert result.exit_code == 0, f"{' '.join(command)}: {result.output}"


def test_temporal_values_use_postgresql_and_fixed_shards() -> None:
    values = yaml.safe_load((DEPLOY / "helm" / "temporal-values.yaml").read_text("utf-8"))
    config = values["server"]["config"]
    assert config["numHistoryShards"] >= 512
    assert config["persistence"]["default"]["sql"]["driver"] == "postgres12"
    assert values["cassandra"]["enabled"] is False
