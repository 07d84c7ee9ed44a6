"""docker-stack.yml as Docker renders it: `docker stack config` validates the file offline
(no engine needed), and the rendered services are checked one by one."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.stack import docker_stack_config, render_stack

IMAGE = "registry.example.com/canal/channel-performance:0123456789ab"
SECRETS = ["chanperf_api_keys", "chanperf_database_url", "chanperf_redis_url"]
COMMON_ENV = {
    "CHANPERF_DATABASE_URL_FILE": "/run/secrets/chanperf_database_url",
    "CHANPERF_REDIS_URL_FILE": "/run/secrets/chanperf_redis_url",
    "CHANPERF_TIMEZONE": "America/Sao_Paulo",
    "CHANPERF_LOG_LEVEL": "INFO",
    "CHANPERF_COLLECT_READERS": "2",
    "CHANPERF_POLICIES_DIR": "",
    "CHANPERF_RULES_DIR": "",
}
WAIT = ["chanperf", "db", "wait", "--timeout", "900", "--"]


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    return render_stack(CHANPERF_IMAGE=IMAGE, CHANPERF_WORKER_REPLICAS="3")


def test_the_four_services_run_the_one_image(stack) -> None:
    services = stack["services"]
    assert sorted(services) == ["api", "migrate", "scheduler", "worker"]
    assert {s["image"] for s in services.values()} == {IMAGE}


def test_replicas_and_modes(stack) -> None:
    deploy = {name: s["deploy"] for name, s in stack["services"].items()}
    assert deploy["api"]["replicas"] == 2
    assert deploy["worker"]["replicas"] == 3  # CHANPERF_WORKER_REPLICAS
    assert deploy["scheduler"]["replicas"] == 1
    assert (deploy["migrate"]["mode"], deploy["migrate"]["replicas"]) == ("replicated-job", 1)
    # Never two schedulers, not even during an update; the API never drops below 2.
    assert deploy["scheduler"]["update_config"]["order"] == "stop-first"
    assert deploy["api"]["update_config"]["order"] == "start-first"
    for name in ("api", "worker", "scheduler"):
        assert deploy[name]["update_config"]["failure_action"] == "rollback", name
        assert deploy[name]["restart_policy"]["condition"] == "any", name
    assert deploy["migrate"]["restart_policy"] == {
        "condition": "on-failure",
        "delay": "10s",
        "max_attempts": 5,
    }


def test_worker_replicas_default_to_two() -> None:
    assert render_stack(CHANPERF_IMAGE=IMAGE)["services"]["worker"]["deploy"]["replicas"] == 2


def test_commands_migrate_once_and_wait_for_the_schema(stack) -> None:
    services = stack["services"]
    assert services["migrate"]["command"] == [
        "chanperf", "db", "upgrade", "--lock-timeout", "600"
    ]  # fmt: skip
    assert services["worker"]["command"] == [*WAIT, "chanperf", "worker"]
    assert services["scheduler"]["command"] == [*WAIT, "chanperf", "scheduler"]
    assert services["api"]["command"] == [
        *WAIT,
        "gunicorn",
        "--bind=0.0.0.0:8024",
        "--workers=2",
        "--timeout=60",
        "--graceful-timeout=30",
        "--access-logfile=-",
        "--forwarded-allow-ips=*",
        "api:create_app()",
    ]


def test_secrets_are_files_named_by_FILE_variables(stack) -> None:
    assert stack["secrets"] == {
        name: {"name": name, "external": True} for name in SECRETS
    }  # fmt: skip
    mounted = {
        name: sorted(s["source"] for s in service["secrets"])
        for name, service in stack["services"].items()
    }
    assert mounted == {
        "api": SECRETS,
        "worker": ["chanperf_database_url", "chanperf_redis_url"],
        "scheduler": ["chanperf_database_url", "chanperf_redis_url"],
        "migrate": ["chanperf_database_url"],
    }
    for name, service in stack["services"].items():
        env = service["environment"]
        expected = dict(COMMON_ENV)
        if name == "api":
            expected["CHANPERF_API_KEYS_FILE"] = "/run/secrets/chanperf_api_keys"
            expected["CHANPERF_PROXY_HOPS"] = "1"  # Traefik, whose prefix the docs need
        assert env == expected, name
        # Every file a variable names is a secret the service mounts, except the queue's
        # for migrate, which reads no queue.
        files = {v.rsplit("/", 1)[1] for k, v in env.items() if k.endswith("_FILE")}
        assert files - set(mounted[name]) == (
            {"chanperf_redis_url"} if name == "migrate" else set()
        ), name


def test_secret_names_can_change_for_a_rotation() -> None:
    rendered = render_stack(CHANPERF_IMAGE=IMAGE, CHANPERF_DATABASE_URL_SECRET="db_url_v2")
    assert rendered["secrets"]["chanperf_database_url"] == {"name": "db_url_v2", "external": True}


def test_traefik_routes_the_prefix_to_port_8024(stack) -> None:
    assert stack["services"]["api"]["deploy"]["labels"] == {
        "traefik.enable": "true",
        "traefik.docker.network": "traefik-public",
        "traefik.swarm.network": "traefik-public",
        "traefik.http.routers.channel-performance.rule": "PathPrefix(`/channel-performance/`)",
        "traefik.http.routers.channel-performance.entrypoints": "web",
        "traefik.http.routers.channel-performance.middlewares": "channel-performance-strip",
        "traefik.http.middlewares.channel-performance-strip.stripprefix.prefixes": (
            "/channel-performance"
        ),
        "traefik.http.services.channel-performance.loadbalancer.server.port": "8024",
        "traefik.http.services.channel-performance.loadbalancer.healthcheck.path": "/ready",
        "traefik.http.services.channel-performance.loadbalancer.healthcheck.interval": "10s",
    }
    assert stack["services"]["api"]["networks"] == {"default": None, "traefik": None}
    assert stack["networks"]["traefik"] == {"name": "traefik-public", "external": True}


def test_health_checks(stack) -> None:
    services = stack["services"]
    check = services["api"]["healthcheck"]
    assert check["test"][-1] == (
        "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8024/health', timeout=4)"
    )
    assert (check["interval"], check["retries"], check["start_period"]) == ("15s", 3, "2m0s")
    # The image's check asks the API port: the others open none.
    for name in ("worker", "scheduler", "migrate"):
        assert services[name]["healthcheck"] == {"disable": True}, name


def test_limits_and_logs_on_every_service(stack) -> None:
    limits = {n: s["deploy"]["resources"]["limits"] for n, s in stack["services"].items()}
    assert limits == {
        "api": {"cpus": "1.00", "memory": "1073741824"},
        "worker": {"cpus": "1.00", "memory": "2147483648"},
        "scheduler": {"cpus": "0.25", "memory": "268435456"},
        "migrate": {"cpus": "0.50", "memory": "536870912"},
    }
    for name, service in stack["services"].items():
        assert service["logging"] == {
            "driver": "json-file",
            "options": {"max-size": "10m", "max-file": "5", "tag": "{{.Name}}"},
        }, name


def test_the_image_is_required() -> None:
    done = docker_stack_config()
    assert done.returncode == 1
    assert (
        "required variable CHANPERF_IMAGE is missing a value: "
        "set CHANPERF_IMAGE to the image to deploy" in done.stderr
    )
