"""compose.yaml, the production deployment docs/operations.md walks through, holds together.

Why read it as YAML rather than run it: CI has no Docker daemon. What can go
wrong without one is checked here: a setting misspelt (the gateway would
refuse it, or worse, a default would stay), a secret written into the file,
a required setting missing, a health check or the database volume gone, and
the ports of the Dockerfile, the health check and the published port drifting
apart. Where `docker compose` exists, it validates the file too.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import SecretStr

from gateway.config import ENV_NAMES, Settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
# ${NAME}, ${NAME:-default}, ${NAME:?message}
INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<rest>[^}]*))?\}")
# What a production gateway cannot run without, beyond the settings that have no default:
# the carrier's SMSC and the bind's credentials, the short code, and the key that erasure
# needs (docs/configuration.md).
PRODUCTION_REQUIRED = {
    "GATEWAY_SMPP_HOST", "GATEWAY_SMPP_SYSTEM_ID", "GATEWAY_SMPP_PASSWORD", "GATEWAY_SHORTCODE",
    "GATEWAY_PRIVACY_HASH_SECRET",
}
SECRETS = {"DATABASE_URL", "POSTGRES_PASSWORD"} | {
    env for env, field in ENV_NAMES.items()
    if SecretStr in (Settings.model_fields[field].annotation,
                     *getattr(Settings.model_fields[field].annotation, "__args__", ()))
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def environment(service: dict[str, Any]) -> dict[str, str | None]:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "write environment: as a mapping"
    return {str(k): None if v is None else str(v) for k, v in env.items()}


def resolved(value: str) -> str:
    """Each ${NAME...} as NAME: what the value looks like once compose fills it in."""
    return INTERPOLATION.sub(lambda m: m["name"], value)


def test_the_two_services_and_the_volume(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"db", "gateway"}
    assert "pgdata" in compose["volumes"]
    assert "pgdata:/var/lib/postgresql/data" in services["db"]["volumes"]
    assert services["gateway"]["depends_on"]["db"]["condition"] == "service_healthy"
    for name, service in services.items():
        assert service["restart"] == "unless-stopped", name


def test_both_services_have_health_checks(compose: dict[str, Any]) -> None:
    db, gateway = compose["services"]["db"], compose["services"]["gateway"]
    assert db["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert "/healthz" in " ".join(gateway["healthcheck"]["test"])


def test_every_gateway_variable_is_a_setting(compose: dict[str, Any]) -> None:
    unknown = set(environment(compose["services"]["gateway"])) - set(ENV_NAMES)
    assert unknown == set(), f"not settings of gateway/config.py: {sorted(unknown)}"


def test_every_required_setting_is_given(compose: dict[str, Any]) -> None:
    env = environment(compose["services"]["gateway"])
    required = {env_name for env_name, field in ENV_NAMES.items()
                if Settings.model_fields[field].is_required()} | PRODUCTION_REQUIRED
    for name in sorted(required):
        value = env.get(name)
        assert value, f"{name} is required and compose.yaml does not set it"
        for match in INTERPOLATION.finditer(value):
            if match["name"] != "GATEWAY_INSTANCE_NAME":
                assert match["op"] == ":?", f"{name}: write ${{{match['name']}:?...}}"


def test_no_secret_is_written_in_the_file(compose: dict[str, Any]) -> None:
    for service_name, service in compose["services"].items():
        for name, value in environment(service).items():
            if name not in SECRETS or value is None:
                continue  # None: passed on from the environment of `docker compose`
            literal = INTERPOLATION.sub("", value)
            if name == "DATABASE_URL":
                assert urlsplit(resolved(value)).password is not None
                literal = urlsplit(literal).password or ""
            assert literal == "", f"{service_name}: {name} holds a literal secret"
            assert all(m["op"] == ":?" for m in INTERPOLATION.finditer(value)), (
                f"{service_name}: {name} must come from the environment, with no default")


def test_optional_settings_are_passed_on_not_set_empty(compose: dict[str, Any]) -> None:
    """An empty variable is a value: GATEWAY_STRIPE_SECRET_KEY= would turn card gifts on."""
    for name, value in environment(compose["services"]["gateway"]).items():
        if value is None:
            continue
        assert value != "", name
        for match in INTERPOLATION.finditer(value):
            assert not (match["op"] in (":-", "-") and match["rest"] == ""), (
                f"{name}: ${{{match['name']}:-}} sets it empty; write `{name}:` to pass it on")


def test_the_database_url_names_the_db_service(compose: dict[str, Any]) -> None:
    db_env = {k: resolved(v or "") for k, v in environment(compose["services"]["db"]).items()}
    url = urlsplit(resolved(environment(compose["services"]["gateway"])["DATABASE_URL"] or ""))
    assert url.scheme == "postgresql"
    assert url.hostname == "db"
    assert url.username == db_env["POSTGRES_USER"]
    assert url.path == "/" + db_env["POSTGRES_DB"]
    assert url.password == db_env["POSTGRES_PASSWORD"]


def test_ports_agree_with_the_dockerfile(compose: dict[str, Any]) -> None:
    port = re.search(r"GATEWAY_HTTP_PORT=(\d+)", DOCKERFILE.read_text(encoding="utf-8"))
    assert port is not None
    gateway = compose["services"]["gateway"]
    assert all(str(p).endswith(f":{port[1]}") for p in gateway["ports"])
    assert f"127.0.0.1:{port[1]}/healthz" in " ".join(gateway["healthcheck"]["test"])
    assert "GATEWAY_HTTP_PORT" not in environment(gateway)


def test_the_keywords_file_is_mounted_where_the_image_reads_it(compose: dict[str, Any]) -> None:
    keywords = re.search(r"GATEWAY_KEYWORDS=(\S+)", DOCKERFILE.read_text(encoding="utf-8"))
    assert keywords is not None
    mounts = compose["services"]["gateway"]["volumes"]
    assert any(str(m).split(":")[-2] == keywords[1] and str(m).endswith(":ro") for m in mounts)


def _docker_compose() -> list[str] | None:
    if shutil.which("docker") is None:
        return None
    found = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    return ["docker", "compose"] if found.returncode == 0 else None


DOCKER_COMPOSE = _docker_compose()


@pytest.mark.skipif(DOCKER_COMPOSE is None,
                    reason="docker compose is not installed; the tests above read the YAML")
def test_docker_compose_accepts_the_file() -> None:
    assert DOCKER_COMPOSE is not None
    env = {**os.environ, **dict.fromkeys(
        ("POSTGRES_PASSWORD", *PRODUCTION_REQUIRED), "placeholder0")}
    result = subprocess.run([*DOCKER_COMPOSE, "-f", str(COMPOSE), "config", "--quiet"],
                            capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr
    missing = subprocess.run([*DOCKER_COMPOSE, "-f", str(COMPOSE), "config", "--quiet"],
                             capture_output=True, text=True, check=False,
                             env={k: v for k, v in env.items() if k != "POSTGRES_PASSWORD"})
    assert missing.returncode != 0 and "POSTGRES_PASSWORD" in missing.stderr
