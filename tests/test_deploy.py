"""Deployment files, validated offline: Dockerfile, lock, compose, Kubernetes manifests.

``scripts/validate-deploy`` runs the schema validators (check-jsonschema for compose,
``kubectl kustomize`` + ``kubernetes-validate --strict`` for every kustomization) and leaves the
rendered manifests in build/deploy/. The tests here run it, then cross-check what the files say
against the code: every NEWSFLOW_* variable is a field of the settings class of the service that
reads it (and its value validates), ports and topic layouts match, secrets come from Secrets.
No Docker engine or cluster is involved: nothing here proves the images run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from pydantic import SecretStr

from services.cli import main as cli_main
from services.common.health import Health, serve
from services.common.kafka import SINGLE_PARTITION, TOPIC_RETENTION_MS, topic_specs
from services.common.settings import ENV_PREFIX, CommonSettings, ConsumerSettings
from services.extractor.settings import ExtractorSettings
from services.fetcher.settings import FetcherSettings
from services.sink.settings import SinkSettings
from services.stories.settings import StoriesSettings
from services.up import COMMANDS, UpSettings

ROOT = Path(__file__).resolve().parent.parent
RENDERED = ROOT / "build" / "deploy"
# Service name (compose service, Kubernetes component label, Prometheus job, metrics stage) -> settings.
SERVICE_SETTINGS: dict[str, type[CommonSettings]] = {
    "fetcher": FetcherSettings,
    "extractor": ExtractorSettings,
    "stories": StoriesSettings,
    "sink": SinkSettings,
}
ALL_SETTINGS = (CommonSettings, FetcherSettings, ExtractorSettings, StoriesSettings, SinkSettings, UpSettings)
# Stand-ins for what deployments take from Secrets, so that settings validate as a whole.
S = TypeVar("S", bound=CommonSettings)
SECRET_STANDINS = {"NEWSFLOW_KAFKA_SASL_PASSWORD": "x", "NEWSFLOW_SINK_URL": "postgresql://u@h/db",
                   "NEWSFLOW_FETCHER_STATE_URL": "postgresql://u@h/db"}
SECRET_ENVS = set(SECRET_STANDINS)
# Services that run as any number of replicas with no fixed host port (compose --scale).
SCALABLE = ("fetcher", "extractor", "stories")


def command_of(service: str) -> str:
    """The `newsflow` sub-command that runs a service (the same table `newsflow up` uses)."""
    return COMMANDS.get(service, service)


# --- helpers ------------------------------------------------------------------------------------

def yaml_load_all(path: Path) -> list[dict[str, Any]]:
    import yaml  # installed by scripts/validate-deploy (a dev dependency)

    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def field_of(cls: type[CommonSettings], env_name: str) -> str:
    """The settings field an environment variable sets, or fail naming it."""
    assert env_name.startswith(ENV_PREFIX), f"{env_name}: not a NEWSFLOW_ variable"
    name = env_name[len(ENV_PREFIX):].lower()
    assert name in cls.model_fields, f"{env_name} is not a setting of {cls.__name__}"
    return name


def build_settings(cls: type[S], env: dict[str, str]) -> S:
    """Validate a whole environment as ``cls`` would at start-up (model_validate: this process's
    own NEWSFLOW_* variables play no part)."""
    return cls.model_validate({field_of(cls, k): v for k, v in env.items()})


_INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}")


def interpolate(value: object) -> str:
    """Compose's ${VAR:-default}, with the defaults (what a user without an .env file gets)."""
    return _INTERPOLATION.sub(lambda m: m.group(2) or "", str(value))


# --- the validators ------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def validated() -> str:
    """Run scripts/validate-deploy once; its output. Fails (never skips) if a validator is missing."""
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "validate-deploy")], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, f"validate-deploy failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_validate_deploy_checks_compose_and_every_kustomization(validated: str) -> None:
    assert "ok compose-spec compose.yaml" in validated
    assert "ok compose-spec compose.dev.yaml" in validated
    overlays = [p.name for p in (ROOT / "deploy/k8s/overlays").iterdir() if p.is_dir()]
    assert "production" in overlays
    for name in ["base", "strimzi", *overlays]:
        assert re.search(rf"ok kustomize\+kubernetes-validate \S*/{name} \(\d+ resources\)", validated), name
        assert (RENDERED / f"{name}.yaml").stat().st_size > 0


def test_validators_reject_broken_files(validated: str, tmp_path: Path) -> None:
    """The validators are live: a wrong compose key and an unknown manifest field both fail."""
    bad_compose = tmp_path / "compose.yaml"
    bad_compose.write_text("services:\n  x:\n    image: busybox\n    restart_policy: always\n")
    proc = subprocess.run([str(ROOT / ".venv/bin/check-jsonschema"), "--builtin-schema", "vendor.compose-spec",
                           str(bad_compose)], capture_output=True, text=True, check=False)
    assert proc.returncode != 0
    bad_manifest = tmp_path / "deploy.yaml"
    bad_manifest.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\nspecc: {}\n")
    proc = subprocess.run([str(ROOT / ".venv/bin/kubernetes-validate"), "--strict", str(bad_manifest)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode != 0


# --- image and lock --------------------------------------------------------------------------------

def lock_pins() -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) from requirements.lock."""
    pins: dict[str, tuple[str, int]] = {}
    for block in re.split(r"\n(?=[a-z0-9])", (ROOT / "requirements.lock").read_text()):
        m = re.match(r"([a-z0-9][a-z0-9._-]*)==(\S+)", block)
        if m:
            pins[re.sub(r"[-_.]+", "-", m.group(1))] = (m.group(2), block.count("--hash=sha256:"))
    return pins


def test_lock_pins_every_runtime_dependency_with_hashes() -> None:
    from packaging.requirements import Requirement

    pins = lock_pins()
    assert pins and all(hashes >= 1 for _, hashes in pins.values())
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for dep in deps:
        req = Requirement(dep)
        name = re.sub(r"[-_.]+", "-", req.name.lower())
        assert name in pins, f"{dep} is in pyproject.toml but not in requirements.lock: run scripts/lock"
        assert req.specifier.contains(pins[name][0], prereleases=True), \
            f"requirements.lock pins {name}=={pins[name][0]}, pyproject wants {dep}: run scripts/lock"
    assert "psycopg-binary" in pins and "setuptools" in pins  # PostgreSQL driver; build backend


def dockerfile_stages() -> list[list[str]]:
    """Dockerfile instructions (continuations joined), split into stages."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    stages: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def test_dockerfile_shape() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2, "multi-stage"
    text = (ROOT / "Dockerfile").read_text()
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text
    assert all(stage[0] == "FROM ${PYTHON_IMAGE} AS " + stage[0].split()[-1] for stage in stages)
    build, final = stages[0], stages[-1]
    assert any("--require-hashes" in i and "requirements.lock" in i for i in build)
    final_text = "\n".join(final)
    for compiler in ("gcc", "g++", "build-essential", "python3-dev", "make "):
        assert compiler not in final_text, f"{compiler} in the final stage"
    user = next(i for i in final if i.startswith("USER "))
    assert user.split()[1].split(":")[0] not in ("0", "root")
    assert "STOPSIGNAL SIGTERM" in final
    assert any(i.startswith("HEALTHCHECK") and "/healthz" in i for i in final)
    assert any(i.startswith("ENTRYPOINT") and '"newsflow"' in i for i in final)
    dockerignore = (ROOT / ".dockerignore").read_text().split()
    assert dockerignore[dockerignore.index("*")] == "*" and "!services/" in dockerignore


def healthcheck_command(instruction: str) -> list[str]:
    import json

    return list(json.loads(instruction.split("CMD", 1)[1].strip()))


@pytest.mark.parametrize("stale", [False, True])
def test_image_healthcheck_reads_healthz(stale: bool) -> None:
    """The HEALTHCHECK command itself, run against a real health endpoint: 0 when alive, else not."""
    final = dockerfile_stages()[-1]
    cmd = healthcheck_command(next(i for i in final if i.startswith("HEALTHCHECK")))
    assert cmd[0] == "python"
    health = Health(stale_after_seconds=0 if stale else 60)
    server = serve(health, "127.0.0.1", 0)
    try:
        env = {**os.environ, "NEWSFLOW_METRICS_PORT": str(server.server_address[1])}
        proc = subprocess.run([sys.executable, *cmd[1:]], env=env, capture_output=True, timeout=30, check=False)
    finally:
        server.shutdown()
    assert (proc.returncode != 0) is stale, proc.stderr


# --- compose -----------------------------------------------------------------------------------------

def compose(*files: str) -> dict[str, Any]:
    """compose files merged the way Compose merges them, as far as these files need it."""
    merged: dict[str, Any] = {}
    for name in files:
        (doc,) = yaml_load_all(ROOT / name)
        merged = _merge(merged, doc)
    return merged


def _merge(base: Any, over: Any, key: str = "") -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = _merge(base[k], v, k) if k in base else v
        return out
    if isinstance(base, list) and isinstance(over, list):
        if key in ("configs", "secrets", "volumes", "ports") and all(isinstance(x, dict) for x in base + over):
            by_target = {x["target"]: x for x in base}  # unique resources: merged by target
            by_target.update({x["target"]: x for x in over})
            return list(by_target.values())
        return over if key in ("command", "entrypoint") else base + over
    return over


def newsflow_services(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in doc["services"].items()
            if "NEWSFLOW_IMAGE" in str(svc.get("image", ""))}


def compose_env(svc: dict[str, Any]) -> dict[str, str]:
    env = svc.get("environment", {})
    assert isinstance(env, dict), "environment as a mapping"
    return {k: interpolate(v) for k, v in env.items()}


def settings_class(svc: dict[str, Any]) -> type[CommonSettings]:
    command = svc.get("command", [])
    by_command = {command_of(name): cls for name, cls in SERVICE_SETTINGS.items()}
    return by_command.get(command[0], CommonSettings) if command else CommonSettings


@pytest.mark.parametrize("files", [("compose.yaml",), ("compose.yaml", "compose.dev.yaml")])
def test_compose_services_and_settings_exist_in_code(files: tuple[str, ...]) -> None:
    doc = compose(*files)
    services = newsflow_services(doc)
    assert {*SERVICE_SETTINGS, "topics-init"} <= set(services)
    commands = set(cli_main.commands)
    for name, svc in services.items():
        command = svc.get("command", [])
        if svc.get("entrypoint"):  # the demo site: a module of the image, not a service command
            assert "services.demo.server" in svc["entrypoint"]
            continue
        assert command and command[0] in commands, f"{name}: {command} is not a newsflow command"
        if name in SERVICE_SETTINGS:
            assert command == [command_of(name)], f"compose service {name} runs {command}"
        cls = settings_class(svc)
        env = compose_env(svc)
        for key in env:
            field_of(cls, key)
        build_settings(cls, {**env, **{k: v for k, v in SECRET_STANDINS.items() if k[9:].lower() in cls.model_fields
                                       and k not in env}})


def test_compose_ports_health_and_lifecycle() -> None:
    doc = compose("compose.yaml")
    services = doc["services"]
    for name, cls in SERVICE_SETTINGS.items():
        svc = services[name]
        env = compose_env(svc)
        port = int(env["NEWSFLOW_METRICS_PORT"])
        assert port == cls.model_fields["metrics_port"].default, f"{name}: port differs from the code's default"
        targets = [int(p["target"]) if isinstance(p, dict) else int(str(p).rsplit(":", 1)[1]) for p in svc["ports"]]
        assert targets[0] == port
        if name == "sink":  # the JSON API, reachable from the host's loopback
            assert targets[1:] == [int(env["NEWSFLOW_API_PORT"])] and env["NEWSFLOW_API_HOST"] == "0.0.0.0"
        elif name == "fetcher":  # the WebSub callbacks (its default listen address), for a reverse proxy
            listen = FetcherSettings.model_fields["websub_listen"].default
            assert targets == [port, int(listen.rsplit(":", 1)[1])]
        else:
            assert targets == [port]
        if name in SCALABLE:  # `--scale NAME=N`: no fixed host port (it would collide), no container_name
            assert all(p == {"target": t, "host_ip": "127.0.0.1"} for p, t in zip(svc["ports"], targets, strict=True)), \
                f"{name}: a fixed host port"
            assert "container_name" not in svc
        assert "NEWSFLOW_METRICS_PORT" in " ".join(svc["healthcheck"]["test"]) and "/healthz" in " ".join(
            svc["healthcheck"]["test"])
        assert svc["restart"] == "unless-stopped"
        assert svc["deploy"]["resources"]["limits"]["memory"]
        assert svc["depends_on"]["kafka"]["condition"] == "service_healthy"
        assert svc["depends_on"]["topics-init"]["condition"] == "service_completed_successfully"
        grace = int(svc["stop_grace_period"].rstrip("s"))
        settings = build_settings(cls, {**env, **({"NEWSFLOW_SINK_URL": "sqlite:///x.db"} if name == "sink" else {})})
        if isinstance(settings, ConsumerSettings):
            assert grace > settings.shutdown_timeout_seconds
    assert services["sink"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["fetcher"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["topics-init"]["command"] == ["topics", "ensure"]
    for infra in ("kafka", "postgres"):
        assert services[infra]["healthcheck"]["test"] and services[infra]["volumes"]
    assert services["kafka"]["image"].startswith("apache/kafka:")


def test_compose_kafka_accepts_the_largest_page() -> None:
    doc = compose("compose.yaml")
    kafka_env = doc["services"]["kafka"]["environment"]
    assert kafka_env["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft
    max_bytes = int(compose_env(doc["services"]["topics-init"])["NEWSFLOW_MAX_MESSAGE_BYTES"])
    assert int(kafka_env["KAFKA_MESSAGE_MAX_BYTES"]) >= max_bytes + 1024
    assert int(kafka_env["KAFKA_REPLICA_FETCH_MAX_BYTES"]) >= max_bytes + 1024
    partitions = {int(compose_env(svc)["NEWSFLOW_TOPIC_PARTITIONS"]) for svc in newsflow_services(doc).values()
                  if "NEWSFLOW_TOPIC_PARTITIONS" in svc.get("environment", {})}
    assert len(partitions) == 1, "every container agrees on the partition count"


def test_compose_fetcher_reads_the_feed_secrets_file_if_there() -> None:
    """The feed list's env:VAR values: an optional env file of the fetcher only (docs/fetcher.md)."""
    services = compose("compose.yaml")["services"]
    assert services["fetcher"]["env_file"] == [{"path": "./feed-secrets.env", "required": False}]
    assert [name for name, svc in services.items() if "env_file" in svc] == ["fetcher"]
    assert "feed-secrets.env" in (ROOT / ".gitignore").read_text().split()


def test_compose_dev_overlay_serves_the_demo_feeds() -> None:
    doc = compose("compose.yaml", "compose.dev.yaml")
    feeds = [line for line in doc["configs"]["demo-feeds"]["content"].splitlines()
             if line and not line.startswith("#")]
    site = [line for line in (ROOT / "services/demo/site/feeds.txt").read_text().splitlines()
            if line and not line.startswith("#")]
    assert feeds == [f"http://demo:8765/{path}" for path in site]
    fetcher = doc["services"]["fetcher"]
    (mount,) = [c for c in fetcher["configs"] if c["target"] == compose_env(fetcher)["NEWSFLOW_FEEDS_FILE"]]
    assert mount["source"] == "demo-feeds"
    assert compose_env(fetcher)["NEWSFLOW_ALLOW_PRIVATE_NETWORKS"] == "true"
    assert doc["services"]["demo"]["command"] == ["--host", "demo", "--port", "8765"]


def test_compose_monitoring_files() -> None:
    """Prometheus and Grafana mount the metrics area's files; the scrape targets are our services."""
    doc = compose("compose.yaml")
    mounts = [v.split(":")[0] for svc in ("prometheus", "grafana") for v in doc["services"][svc]["volumes"]
              if v.startswith("./")]
    assert mounts == ["./deploy/prometheus", "./deploy/grafana/provisioning", "./deploy/grafana/dashboards"]
    scrape = ROOT / "deploy/prometheus/prometheus.yml"
    (config,) = yaml_load_all(scrape)
    for rules in config.get("rule_files", []):  # resolved next to prometheus.yml: the mounted directory
        assert (scrape.parent / rules).is_file(), rules
    assert (ROOT / "deploy/grafana/dashboards/newsflow.json").is_file()
    provider = yaml_load_all(ROOT / "deploy/grafana/provisioning/dashboards/newsflow.yml")[0]
    grafana_mounts = {v.split(":")[1]: v.split(":")[0] for v in doc["services"]["grafana"]["volumes"]}
    for p in provider["providers"]:
        assert grafana_mounts[p["options"]["path"]] == "./deploy/grafana/dashboards"
    # Every replica is scraped: DNS discovery (type A) of the compose service name returns them all.
    jobs = {job["job_name"]: job for job in config.get("scrape_configs", [])}
    for name, cls in SERVICE_SETTINGS.items():
        assert name in doc["services"] and name in jobs, f"{name} is not scraped"
        assert "static_configs" not in jobs[name], f"{name}: a static target sees one replica of a scaled service"
        (sd,) = jobs[name]["dns_sd_configs"]
        assert sd["names"] == [name] and sd["type"] == "A"
        assert sd["port"] == cls.model_fields["metrics_port"].default
    assert set(SERVICE_SETTINGS) <= set(doc["services"]["prometheus"]["depends_on"])


def test_compose_scales_every_stage() -> None:
    """`docker compose up -d --scale fetcher=2 --scale extractor=3`: replicas share what must be shared.
    The fetchers' state is the compose PostgreSQL (the sink's credentials), never a per-container file;
    the story stage runs one active member and a standby; no stage keeps state in a volume."""
    doc = compose("compose.yaml")
    services = doc["services"]
    fetcher_env = compose_env(services["fetcher"])
    sink_env = compose_env(services["sink"])
    state = build_settings(FetcherSettings, fetcher_env)
    url = state.fetcher_state_url.get_secret_value()
    assert url.startswith("postgresql://") and "@postgres:5432/" in url
    assert url == sink_env["NEWSFLOW_SINK_URL"], "the fetchers use the compose PostgreSQL like the sink"
    assert state.fetcher_lease_seconds <= 60
    assert services["fetcher"]["environment"]["NEWSFLOW_FETCHER_STATE_URL"] == \
        services["sink"]["environment"]["NEWSFLOW_SINK_URL"], "the same ${POSTGRES_PASSWORD} interpolation"
    for name in SERVICE_SETTINGS:
        assert not any(str(v).endswith(":/data") for v in services[name].get("volumes", [])), f"{name}: a volume"
    assert set(doc["volumes"]) == {"kafka-data", "postgres-data", "prometheus-data", "grafana-data"}
    stories = services["stories"]
    assert stories["deploy"]["replicas"] == 2, "one active member, one standby"
    settings = build_settings(StoriesSettings, compose_env(stories))
    assert topic_specs(settings)[settings.topic_extracted]["num_partitions"] == 1
    assert rebuild_source_covers_the_window(settings)
    for name in ("fetcher", "extractor", "sink"):
        assert "replicas" not in services[name].get("deploy", {}), f"{name}: scaled with --scale"


# --- kubernetes --------------------------------------------------------------------------------------

def rendered(name: str) -> list[dict[str, Any]]:
    return yaml_load_all(RENDERED / f"{name}.yaml")


K8S_TREES = ["base", *sorted(p.name for p in (ROOT / "deploy/k8s/overlays").iterdir() if p.is_dir())]


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def workloads(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(service, workload): the service is the component label; its container runs that service's command."""
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet"):
            service = doc["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
            assert doc["spec"]["template"]["spec"]["containers"][0]["args"] == [command_of(service)], service
            yield service, doc


def container_env(doc: dict[str, Any], configmaps: dict[str, dict[str, Any]]) -> dict[str, str]:
    """What the container's environment holds: ConfigMaps (envFrom), then env (secrets: stand-ins)."""
    (container,) = doc["spec"]["template"]["spec"]["containers"]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "secretRef" in source:  # the feeds' env:VAR values: names chosen by the feed list, not settings
            assert source["secretRef"] == {"name": "newsflow-feed-secrets", "optional": True}, source
            continue
        assert set(source) == {"configMapRef"}, "envFrom only from ConfigMaps (and the optional feed secrets)"
        env.update(configmaps[source["configMapRef"]["name"]]["data"])
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
        else:
            assert "secretKeyRef" in item["valueFrom"], item
            env[item["name"]] = SECRET_STANDINS[item["name"]]
    return env


@pytest.mark.parametrize("tree", K8S_TREES)
def test_k8s_env_vars_are_real_settings(validated: str, tree: str) -> None:
    docs = rendered(tree)
    configmaps = by_kind(docs, "ConfigMap")
    seen = set()
    for service, doc in workloads(docs):
        cls = SERVICE_SETTINGS[service]
        seen.add(service)
        env = container_env(doc, configmaps)
        for key in env:
            field_of(cls, key)
        settings = build_settings(cls, env)
        assert settings.metrics_host == "0.0.0.0"
    assert seen == set(SERVICE_SETTINGS)
    for name, cm in configmaps.items():
        for key in cm["data"] if not name.startswith("newsflow-feeds") else []:
            field = key[len(ENV_PREFIX):].lower()
            assert any(field in cls.model_fields for cls in ALL_SETTINGS), f"{name}: {key}"
            annotation = next(cls.model_fields[field].annotation for cls in ALL_SETTINGS
                              if field in cls.model_fields)
            assert "SecretStr" not in str(annotation), f"{key} is a secret: it belongs in a Secret"


@pytest.mark.parametrize("tree", K8S_TREES)
def test_k8s_secrets_only_by_reference(validated: str, tree: str) -> None:
    docs = rendered(tree)
    assert not by_kind(docs, "Secret"), "no Secret objects (and so no literal secrets) in the manifests"
    for _, doc in workloads(docs):
        for item in doc["spec"]["template"]["spec"]["containers"][0].get("env", []):
            if item["name"] in SECRET_ENVS:
                assert "secretKeyRef" in item["valueFrom"], item
    deployments = by_kind(docs, "Deployment")

    def secret_ref(workload: str, name: str) -> dict[str, str]:
        (item,) = [e for e in deployments[workload]["spec"]["template"]["spec"]["containers"][0]["env"]
                   if e["name"] == name]
        return dict(item["valueFrom"]["secretKeyRef"])

    # The feed list's env:VAR values reach the fetcher (only) from an optional Secret, loaded whole.
    for name, deployment in deployments.items():
        refs = [s["secretRef"] for s in deployment["spec"]["template"]["spec"]["containers"][0].get("envFrom", [])
                if "secretRef" in s]
        assert refs == ([{"name": "newsflow-feed-secrets", "optional": True}] if name == "newsflow-fetcher" else []), name
    # The fetchers' shared state comes from the same Secret mechanism as the sink's database URL.
    assert secret_ref("newsflow-fetcher", "NEWSFLOW_FETCHER_STATE_URL") == secret_ref("newsflow-sink",
                                                                                      "NEWSFLOW_SINK_URL")


@pytest.mark.parametrize("tree", K8S_TREES)
def test_k8s_workloads_are_hardened_probed_and_drain(validated: str, tree: str) -> None:
    docs = rendered(tree)
    configmaps = by_kind(docs, "ConfigMap")
    for service, doc in workloads(docs):
        pod = doc["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        settings = build_settings(SERVICE_SETTINGS[service], container_env(doc, configmaps))
        port = settings.metrics_port
        assert port == SERVICE_SETTINGS[service].model_fields["metrics_port"].default
        websub = ([{"name": "websub", "containerPort": int(settings.websub_listen.rsplit(":", 1)[1])}]
                  if isinstance(settings, FetcherSettings) else [])  # the WebSub callbacks
        assert container["ports"] == [{"name": "metrics", "containerPort": port}, *websub]
        annotations = doc["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true" and annotations["prometheus.io/port"] == str(port)
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert pod["securityContext"]["runAsNonRoot"] is True
        sc = container["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert pod["automountServiceAccountToken"] is False
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][kind]), f"{service} {kind}"
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        assert "emptyDir" in volumes[mounts["/tmp"]]
        assert str(settings.data_dir) in mounts
        grace = pod["terminationGracePeriodSeconds"]
        if isinstance(settings, ConsumerSettings):
            assert grace > settings.shutdown_timeout_seconds + 10
            assert pod["topologySpreadConstraints"]
        else:
            assert isinstance(settings, FetcherSettings)
            assert grace > settings.http_total_timeout_seconds + 10


def rebuild_source_covers_the_window(settings: StoriesSettings) -> bool:
    """A member that takes over rebuilds its index from newsflow.articles, as far back as twice the
    story window: the topic must keep that long."""
    return TOPIC_RETENTION_MS["articles"] >= 2 * settings.story_window_days * 86_400_000


def pod_volume(doc: dict[str, Any], path: str) -> dict[str, Any]:
    """The volume a workload's container mounts at ``path``."""
    pod = doc["spec"]["template"]["spec"]
    (name,) = [m["name"] for m in pod["containers"][0]["volumeMounts"] if m["mountPath"] == path]
    (volume,) = [v for v in pod["volumes"] if v["name"] == name]
    return dict(volume)


@pytest.mark.parametrize("tree", K8S_TREES)
def test_k8s_fetcher_replicas_share_state_in_postgresql(validated: str, tree: str) -> None:
    """N fetcher pods, no disk of their own: leases and per-feed state in PostgreSQL (a Secret's URL),
    the feed list from the ConfigMap on every pod, a dead replica's feeds taken over within 60 s."""
    docs = rendered(tree)
    assert not by_kind(docs, "StatefulSet") and not by_kind(docs, "PersistentVolumeClaim")
    fetcher = by_kind(docs, "Deployment")["newsflow-fetcher"]
    assert "volumeClaimTemplates" not in fetcher["spec"]
    assert fetcher["spec"]["replicas"] >= (3 if tree == "production" else 2)
    settings = build_settings(FetcherSettings, container_env(fetcher, by_kind(docs, "ConfigMap")))
    assert settings.fetcher_state_url.get_secret_value().startswith("postgresql://")  # the stand-in: from a Secret
    assert settings.fetcher_lease_seconds <= 60
    assert "emptyDir" in pod_volume(fetcher, str(settings.data_dir)), "the data dir is scratch"
    feeds = pod_volume(fetcher, str(settings.feeds_file.parent))
    assert feeds["configMap"]["name"].startswith("newsflow-feeds")
    pdb = next(p for p in by_kind(docs, "PodDisruptionBudget").values()
               if p["spec"]["selector"]["matchLabels"].get("app.kubernetes.io/component") == "fetcher")
    assert pdb["spec"]["maxUnavailable"] == 1


@pytest.mark.parametrize("tree", K8S_TREES)
def test_k8s_story_stage_has_one_active_member_and_standbys(validated: str, tree: str) -> None:
    """The story stage's input has one partition: one member places every article, the others wait.
    So: a fixed number of replicas (>= 2: a standby), never an HPA, a PDB that keeps one, no disk."""
    docs = rendered(tree)
    stories = by_kind(docs, "Deployment")["newsflow-stories"]
    assert 2 <= stories["spec"]["replicas"] <= 3, "one active member and one or two standbys"
    assert all(h["spec"]["scaleTargetRef"]["name"] != "newsflow-stories"
               for h in by_kind(docs, "HorizontalPodAutoscaler").values())
    settings = build_settings(StoriesSettings, container_env(stories, by_kind(docs, "ConfigMap")))
    assert settings.group_id == "newsflow-stories"
    assert topic_specs(settings)[settings.topic_extracted]["num_partitions"] == 1
    assert "emptyDir" in pod_volume(stories, str(settings.data_dir)), "no disk: the index is rebuilt from Kafka"
    assert rebuild_source_covers_the_window(settings)
    pdb = next(p for p in by_kind(docs, "PodDisruptionBudget").values()
               if p["spec"]["selector"]["matchLabels"].get("app.kubernetes.io/component") == "stories")
    assert pdb["spec"]["minAvailable"] == 1 and "maxUnavailable" not in pdb["spec"]


def partitions_of(docs: list[dict[str, Any]]) -> int:
    return int(next(cm["data"]["NEWSFLOW_TOPIC_PARTITIONS"] for name, cm in by_kind(docs, "ConfigMap").items()
                    if name.startswith("newsflow-common")))


@pytest.mark.parametrize("tree", K8S_TREES)
def test_k8s_scaling_within_partitions(validated: str, tree: str) -> None:
    docs = rendered(tree)
    partitions = partitions_of(docs)
    deployments = by_kind(docs, "Deployment")
    (hpa,) = by_kind(docs, "HorizontalPodAutoscaler").values()
    assert hpa["spec"]["scaleTargetRef"]["name"] == "newsflow-extractor"
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"] <= partitions
    assert "replicas" not in deployments["newsflow-extractor"]["spec"], "the HPA owns the extractor's count"
    assert deployments["newsflow-sink"]["spec"]["replicas"] <= partitions
    pdbs = {p["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"]
            for p in by_kind(docs, "PodDisruptionBudget").values()}
    assert pdbs == set(SERVICE_SETTINGS)


@pytest.mark.parametrize("tree", K8S_TREES)
def test_k8s_network_policies(validated: str, tree: str) -> None:
    docs = rendered(tree)
    policies = list(by_kind(docs, "NetworkPolicy").values())
    deny = [p for p in policies if not p["spec"].get("ingress") and not p["spec"].get("egress")]
    assert deny and set(deny[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    internet = [p for p in policies for rule in p["spec"].get("egress", []) for peer in rule["to"]
                if "ipBlock" in peer and peer["ipBlock"]["cidr"] in ("0.0.0.0/0", "::/0")]
    fetcher = {"app.kubernetes.io/name": "newsflow", "app.kubernetes.io/component": "fetcher"}
    assert internet and all(p["spec"]["podSelector"]["matchLabels"] == fetcher for p in internet)
    for p in policies:
        for rule in p["spec"].get("ingress", []):  # metrics; and WebSub callbacks, to the fetcher only
            assert rule["ports"] in ([{"protocol": "TCP", "port": "metrics"}], [{"protocol": "TCP", "port": "websub"}])
            if rule["ports"][0]["port"] == "websub":
                assert p["spec"]["podSelector"]["matchLabels"] == fetcher
    egress_ports = {port["port"] for p in policies for rule in p["spec"].get("egress", [])
                    for port in rule.get("ports", [])}
    assert {53, 5432, 9092} <= egress_ports
    # PostgreSQL: the sink (articles) and the fetcher (its replicas' shared state), nobody else.
    postgres = [p for p in policies for rule in p["spec"].get("egress", [])
                if any(port["port"] == 5432 for port in rule.get("ports", []))]
    reach = set()
    for p in postgres:
        selector = p["spec"]["podSelector"]
        reach |= {selector.get("matchLabels", {}).get("app.kubernetes.io/component")} - {None}
        reach |= {v for e in selector.get("matchExpressions", []) if e["key"] == "app.kubernetes.io/component"
                  and e["operator"] == "In" for v in e["values"]}
    assert reach == {"sink", "fetcher"}


@pytest.mark.parametrize("tree", K8S_TREES)
def test_k8s_pods_match_the_prometheus_pod_discovery(validated: str, tree: str) -> None:
    """deploy/prometheus/kubernetes.yml keeps pods named newsflow and names the job by component."""
    (config,) = yaml_load_all(ROOT / "deploy/prometheus/kubernetes.yml")
    (job,) = config["scrape_configs"]
    keep = {r["source_labels"][0]: r["regex"] for r in job["relabel_configs"] if r.get("action") == "keep"}
    for service, doc in workloads(rendered(tree)):
        labels = doc["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == keep["__meta_kubernetes_pod_label_app_kubernetes_io_name"]
        assert labels["app.kubernetes.io/component"] == service


def test_strimzi_topics_match_the_code_and_production(validated: str) -> None:
    topics = {t["spec"]["topicName"]: t["spec"] for t in rendered("strimzi") if t["kind"] == "KafkaTopic"}
    production = rendered("production")
    env = next(cm["data"] for name, cm in by_kind(production, "ConfigMap").items()
               if name.startswith("newsflow-common"))
    settings = build_settings(CommonSettings, {**env, "NEWSFLOW_KAFKA_SASL_PASSWORD": "x"})  # from a Secret
    roles = {"pages": settings.topic_pages, "extracted": settings.topic_extracted,
             "articles": settings.topic_articles, "dlq": settings.topic_dlq}
    assert set(topics) == set(roles.values()) == set(topic_specs(settings))
    assert "extracted" in SINGLE_PARTITION  # the story stage's input: one active member
    for role, name in roles.items():
        spec = topics[name]
        assert spec["partitions"] == (1 if role in SINGLE_PARTITION else settings.topic_partitions)
        assert spec["partitions"] == topic_specs(settings)[name]["num_partitions"]
        assert spec["replicas"] == settings.topic_replication_factor == 3
        assert int(spec["config"]["retention.ms"]) == TOPIC_RETENTION_MS[role]
        assert int(spec["config"]["max.message.bytes"]) == settings.max_message_bytes + 1024
        assert spec["config"]["min.insync.replicas"] == 2


def test_settings_classes_have_the_fields_the_deploy_files_rely_on() -> None:
    """Guards the cross-references above against a renamed setting."""
    for cls in (ExtractorSettings, StoriesSettings, SinkSettings):
        assert "shutdown_timeout_seconds" in cls.model_fields
    assert isinstance(SinkSettings.model_fields["sink_url"].default, SecretStr)
    assert isinstance(FetcherSettings.model_fields["fetcher_state_url"].default, SecretStr)
    assert FetcherSettings.model_fields["fetcher_lease_seconds"].default <= 60
    assert {"story_window_days", "story_max_items"} <= set(StoriesSettings.model_fields)
