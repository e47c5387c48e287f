"""The compose file, read statically (tests/compose runs it in containers: `make test-compose`)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
ENV_EXAMPLE = {
    line.split("=", 1)[0].strip()
    for line in (ROOT / ".env.example").read_text().splitlines()
    if line.strip() and not line.startswith("#")
}


def test_every_service_builds_from_a_dockerfile_or_a_pinned_image():
    for name, svc in COMPOSE["services"].items():
        if "build" in svc:
            assert (ROOT / svc["build"]["context"] / svc["build"]["dockerfile"]).is_file(), name
        else:
            image = svc["image"]
            tag = image.rsplit(":", 1)[-1] if ":" in image.split("/")[-1] else ""
            assert tag and tag != "latest", f"{name}: image {image} is not pinned"


ONE_SHOT = {"minio-init"}  # runs to completion; its dependents wait for it to succeed


def test_every_service_has_a_healthcheck_and_waits_for_healthy_dependencies():
    for name, svc in COMPOSE["services"].items():
        if name not in ONE_SHOT:
            assert "test" in svc.get("healthcheck", {}), f"{name} has no healthcheck"
        for dep, cond in svc.get("depends_on", {}).items():
            assert dep in COMPOSE["services"], f"{name} depends on unknown {dep}"
            wanted = "service_completed_successfully" if dep in ONE_SHOT else "service_healthy"
            assert cond == {"condition": wanted}, f"{name} -> {dep}"


def test_long_running_services_restart_unless_stopped():
    for name, svc in COMPOSE["services"].items():
        if name not in ONE_SHOT:
            assert svc.get("restart") == "unless-stopped", name


def test_the_platform_services_are_all_there():
    expected = {"redpanda", "redpanda-console", "redis", "minio", "minio-init", "spark-streaming"}
    expected |= {"scraper", "ml-processor", "monitor", "dashboard"}
    assert expected <= set(COMPOSE["services"])


def test_every_variable_is_documented_in_env_example():
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", text))
    assert used, "the compose file reads its settings from .env"
    assert used <= ENV_EXAMPLE, f"undocumented: {sorted(used - ENV_EXAMPLE)}"


def test_every_setting_is_documented_in_env_example():
    from cryptoviz import settings

    classes = [settings.KafkaSettings, settings.RedisSettings, settings.S3Settings, settings.StackSettings]
    classes += [settings.ContractSettings]
    classes += [
        settings.LakeSettings,
        settings.CoinSettings,
        settings.ScraperSettings,
        settings.MLSettings,
        settings.DashboardSettings,
    ]
    fields = {name.upper() for cls in classes for name in cls.model_fields}
    assert fields <= ENV_EXAMPLE, f"undocumented: {sorted(fields - ENV_EXAMPLE)}"


def test_only_the_dashboard_is_published_on_the_lan_address_the_rest_on_loopback_by_default():
    for name, svc in COMPOSE["services"].items():
        for port in svc.get("ports", []):
            if name == "dashboard":
                assert str(port).startswith("${BIND_ADDRESS:?"), f"{name}: {port}"
            else:
                assert str(port).startswith("${ADMIN_BIND_ADDRESS:-127.0.0.1}:"), f"{name}: {port}"


def test_secrets_are_required():
    text = (ROOT / "docker-compose.yml").read_text()
    for var in ("REDIS_PASSWORD", "S3_ACCESS_KEY", "S3_SECRET_KEY", "DASHBOARD_PASSWORD"):
        assert "${" + var + ":?" in text, f"{var}: an unset secret must stop `up`"


def test_env_example_has_no_inline_comment_on_a_value_line():
    # compose (v1 and v2) and the services take everything after `=` as the value, comment included
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert "#" not in line, f"inline comment on a value line: {line!r}"


def test_every_variable_the_test_override_uses_is_documented():
    text = (ROOT / "tests" / "compose" / "standins.yml").read_text()
    used = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", text))
    assert used <= ENV_EXAMPLE, f"undocumented: {sorted(used - ENV_EXAMPLE)}"


def test_each_image_installs_only_its_services_extra():
    installs = {}
    for svc in ("scraper", "ml-processor", "spark-streaming", "monitor", "dashboard"):
        text = (ROOT / svc / "Dockerfile").read_text()
        installs[svc] = re.search(r'pip install .*"(\.[^"]*)"', text).group(1)
    assert installs == {
        "scraper": ".",
        "ml-processor": ".",
        "monitor": ".",
        "spark-streaming": ".[lake]",
        "dashboard": ".[dashboard]",
    }


def test_the_build_context_leaves_out_the_venv_and_secrets():
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".env", ".git", ".cryptoviz"} <= set(ignored)


def test_no_literal_ip_or_secret_in_tracked_config():
    ip = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
    for path in ["docker-compose.yml", *(str(p.relative_to(ROOT)) for p in ROOT.glob("*/Dockerfile"))]:
        text = (ROOT / path).read_text()
        assert not [m for m in ip.findall(text) if m not in ("0.0.0.0", "127.0.0.1")], path
        assert not re.search(r"(PASSWORD|SECRET|API_KEY)\s*[:=]\s*[\"']?[A-Za-z0-9]{6,}", text), path
    for line in (ROOT / ".env.example").read_text().splitlines():
        if re.match(r"^(REDIS_PASSWORD|S3_ACCESS_KEY|S3_SECRET_KEY|DASHBOARD_PASSWORD|\w+_API_KEY)=", line):
            assert line.split("=", 1)[1].strip() == "", line


def _env_example_sections() -> dict[str, str]:
    """Each variable of .env.example -> the heading (`# --- ... ---`) of the section it stands in."""
    heading, out = "", {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.startswith("# ---"):
            heading = line
        elif line.strip() and not line.startswith("#"):
            out[line.split("=", 1)[0].strip()] = heading
    return out


LOCAL_ONLY = {
    var for var, heading in _env_example_sections().items() if "compose does not read these" in heading
}


def _service_variables() -> dict[str, set[str]]:
    """The variables each service of the compose file reads at start (see each `app.py`)."""
    from cryptoviz import settings as s

    def names(*classes: type[BaseSettings]) -> set[str]:
        return {name.upper() for cls in classes for name in cls.model_fields}

    common = names(s.KafkaSettings, s.RedisSettings, s.StackSettings, s.MetricsSettings)
    return {
        "scraper": common | names(s.ScraperSettings, s.CoinSettings),
        "ml-processor": common | names(s.MLSettings, s.CoinSettings, s.ContractSettings),
        "spark-streaming": common | names(s.LakeSettings, s.S3Settings, s.ContractSettings),
        "monitor": common | names(s.MonitorSettings),
        # the dashboard reads the lake (LAKE_URL, S3) but runs no Spark
        "dashboard": names(s.RedisSettings, s.S3Settings, s.CoinSettings, s.DashboardSettings) | {"LAKE_URL"},
    }


def test_every_documented_variable_of_a_service_reaches_it_in_compose_or_is_local_only():
    missing = {}
    for service, wanted in _service_variables().items():
        block = COMPOSE["services"][service]
        passed = set(block.get("environment", {}))
        published = set(re.findall(r"\$\{([A-Z0-9_]+)", str(block.get("ports", []))))
        lost = sorted((wanted & ENV_EXAMPLE) - LOCAL_ONLY - passed - published)
        if lost:
            missing[service] = lost
    assert not missing, f"documented in .env.example, never passed in compose: {missing}"


def test_local_only_variables_are_not_passed_in_compose():
    text = (ROOT / "docker-compose.yml").read_text()
    assert LOCAL_ONLY, ".env.example marks the local stack's own variables"
    passed = {var for var in LOCAL_ONLY if re.search(rf"\b{var}\b", text)}
    assert not passed, f"marked local-only in .env.example but used in compose: {sorted(passed)}"


def test_compose_publishes_what_a_person_browses_and_keeps_data_ports_to_an_override():
    published = {
        name: re.findall(r"\$\{([A-Z0-9_]+)\}:\d+$", " ".join(map(str, svc.get("ports", []))))
        for name, svc in COMPOSE["services"].items()
    }
    assert "ports" not in COMPOSE["services"]["redis"], "Redis is published only through the override"
    minio = [str(p) for p in COMPOSE["services"]["minio"].get("ports", [])]
    assert not [p for p in minio if p.endswith(":9000")], "the S3 API is published only through the override"
    defaults = dict(
        line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines() if "=" in line
    )
    seed_ports = {
        "DASHBOARD_PORT": "5008",
        "REDPANDA_CONSOLE_PORT": "8090",
        "SPARK_UI_PORT": "8082",
        "MINIO_CONSOLE_PORT": "9002",
        "REDPANDA_EXTERNAL_PORT": "19092",
    }
    assert {k: defaults[k] for k in seed_ports} == seed_ports
    assert published["dashboard"] and published["redpanda-console"] and published["minio"]
    override = yaml.safe_load((ROOT / "docker-compose.data-ports.yml").read_text())
    assert set(override["services"]) == {"redis", "minio"}
    for name, svc in override["services"].items():
        for port in svc["ports"]:
            assert str(port).startswith("${ADMIN_BIND_ADDRESS:-127.0.0.1}:"), f"{name}: {port}"
    host_ports = [defaults[v] for v in (*seed_ports, "SPARK_MASTER_UI_PORT", "REDIS_EXTERNAL_PORT")]
    host_ports.append(defaults["MINIO_API_PORT"])
    assert len(host_ports) == len(set(host_ports)), f"two services on one host port: {host_ports}"
