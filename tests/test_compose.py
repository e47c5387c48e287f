"""No Docker engine runs here: the compose file is checked statically."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
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


def test_every_service_has_a_healthcheck_and_waits_for_healthy_dependencies():
    for name, svc in COMPOSE["services"].items():
        assert "test" in svc.get("healthcheck", {}), f"{name} has no healthcheck"
        for dep, cond in svc.get("depends_on", {}).items():
            assert dep in COMPOSE["services"], f"{name} depends on unknown {dep}"
            assert cond == {"condition": "service_healthy"}, f"{name} -> {dep}"


def test_the_platform_services_are_all_there():
    expected = {"redpanda", "redpanda-console", "redis", "minio", "minio-init", "spark-streaming"}
    expected |= {"scraper", "ml-processor", "dashboard"}
    assert expected <= set(COMPOSE["services"])


def test_every_variable_is_documented_in_env_example():
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", text))
    assert used, "the compose file reads its settings from .env"
    assert used <= ENV_EXAMPLE, f"undocumented: {sorted(used - ENV_EXAMPLE)}"


def test_every_setting_is_documented_in_env_example():
    from cryptoviz import settings

    classes = [settings.KafkaSettings, settings.RedisSettings, settings.S3Settings, settings.StackSettings]
    classes += [
        settings.LakeSettings,
        settings.ScraperSettings,
        settings.MLSettings,
        settings.DashboardSettings,
    ]
    fields = {name.upper() for cls in classes for name in cls.model_fields}
    assert fields <= ENV_EXAMPLE, f"undocumented: {sorted(fields - ENV_EXAMPLE)}"


def test_ports_bind_to_the_configured_address():
    for name, svc in COMPOSE["services"].items():
        for port in svc.get("ports", []):
            assert str(port).startswith("${BIND_ADDRESS}:"), f"{name}: {port}"


def test_no_literal_ip_or_secret_in_tracked_config():
    ip = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
    for path in ["docker-compose.yml", *(str(p.relative_to(ROOT)) for p in ROOT.glob("*/Dockerfile"))]:
        text = (ROOT / path).read_text()
        assert not [m for m in ip.findall(text) if m != "0.0.0.0"], path
        assert not re.search(r"(PASSWORD|SECRET|API_KEY)\s*[:=]\s*[\"']?[A-Za-z0-9]{6,}", text), path
    for line in (ROOT / ".env.example").read_text().splitlines():
        if re.match(r"^(REDIS_PASSWORD|S3_ACCESS_KEY|S3_SECRET_KEY|DASHBOARD_PASSWORD|\w+_API_KEY)=", line):
            assert line.split("=", 1)[1].split("#")[0].strip() == "", line
