"""StaticSite: unprivileged NGINX on a read-only root, its configuration, Service and probes."""

from __future__ import annotations

import re

import cdk8s
import pytest
from syrupy.assertion import SnapshotAssertion

from journal_k8s import StaticSite
from support import find, synth


def test_snapshot(chart: cdk8s.Chart, k8s_snapshot: SnapshotAssertion) -> None:
    StaticSite(chart, "Static")
    assert synth(chart) == k8s_snapshot


def test_service_port_80_reaches_the_unprivileged_container_port(chart: cdk8s.Chart) -> None:
    site = StaticSite(chart, "Static")
    objects = synth(chart)
    service = find(objects, "Service", "fileserver")["spec"]
    deployment = find(objects, "Deployment", "fileserver")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert service["ports"] == [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]
    assert container["ports"] == [{"containerPort": 8080, "name": "http", "protocol": "TCP"}]
    assert service["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["selector"]["app.kubernetes.io/name"] == "fileserver"
    assert (site.service_port, site.container_port) == (80, 8080)


def test_runs_non_root_with_writable_scratch_only(chart: cdk8s.Chart) -> None:
    StaticSite(chart, "Static")
    pod = find(synth(chart), "Deployment", "fileserver")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsUser"] == 101
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert set(mounts) == {"/etc/nginx/journal", "/tmp", "/var/cache/nginx"}
    assert mounts["/etc/nginx/journal"]["readOnly"] is True
    assert container["command"][-4:] == ["-c", "/etc/nginx/journal/nginx.conf", "-g", "daemon off;"]
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}


def test_nginx_configuration(chart: cdk8s.Chart) -> None:
    StaticSite(chart, "Static", container_port=9090, document_root="/srv/site")
    files = find(synth(chart), "ConfigMap", "fileserver-nginx")["data"]
    conf = files["nginx.conf"]
    assert "listen 9090;" in conf
    assert "root /srv/site;" in conf
    assert "gzip on;" in conf
    assert "location = /healthz" in conf
    assert "pid /tmp/nginx.pid;" in conf
    assert "max-age=31536000, immutable" in conf
    assert "X-Content-Type-Options" in files["security-headers.conf"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"container_port": 80}, "container_port=80 is not allowed"),
        ({"service_port": 0}, "service_port=0 is not allowed"),
        ({"service_port": "80"}, "service_port='80' is not allowed: expected 1..65535"),
        ({"container_port": 8080.0}, "container_port=8080.0 is not allowed"),
        ({"replicas": 0}, "replicas=0 is not allowed"),
        ({"document_root": "html"}, "document_root='html' is not allowed"),
    ],
)
def test_fails_on_invalid_arguments(
    chart: cdk8s.Chart, arguments: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        StaticSite(chart, "Static", **arguments)  # type: ignore[arg-type]


def test_each_object_is_reachable_for_json_patches(chart: cdk8s.Chart) -> None:
    site = StaticSite(chart, "Static")
    site.deployment.add_json_patch(cdk8s.JsonPatch.add("/spec/revisionHistoryLimit", 3))
    objects = synth(chart)
    assert find(objects, "Deployment", "fileserver")["spec"]["revisionHistoryLimit"] == 3
    assert (site.service.name, site.config_map.name) == ("fileserver", "fileserver-nginx")
