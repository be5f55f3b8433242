"""Project layout: constructs/ stays a plain folder and never shadows the PyPI 'constructs'."""

from __future__ import annotations

import ast
import importlib.metadata
import inspect
import pydoc
import re
import subprocess
import sys
import tomllib

import constructs
import pytest

import journal_k8s
from support import ROOT

CONSTRUCTS = [
    value
    for value in map(vars(journal_k8s).get, journal_k8s.__all__)
    if isinstance(value, type) and issubclass(value, constructs.Construct)
]
"""Every construct the library exports (a new one cannot be left out)."""


def test_constructs_folder_has_no_init_and_does_not_shadow_the_package() -> None:
    assert not (ROOT / "constructs" / "__init__.py").exists()
    assert "site-packages" in str(constructs.__file__)
    assert hasattr(constructs, "Construct")


def test_import_from_the_repository_root_resolves_the_pypi_package() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import constructs; print(constructs.__file__)"],
        cwd=ROOT,
        text=True,
        capture_output=True,
        check=True,
    )
    assert "site-packages" in result.stdout


def test_library_is_typed_and_exports_a_curated_surface() -> None:
    assert (ROOT / "constructs" / "journal_k8s" / "py.typed").is_file()
    assert set(journal_k8s.__all__) == {
        "CONFIG_HASH_ANNOTATION",
        "DEFAULT_METRICS_INTERVAL",
        "DEFAULT_METRICS_PATH",
        "DEFAULT_NGINX_EXPORTER_IMAGE",
        "DEFAULT_PROXY_IMAGE",
        "DEFAULT_REDIS_EXPORTER_IMAGE",
        "ApiFrontend",
        "Autoscaling",
        "Backend",
        "DisruptionBudget",
        "ExistingSecret",
        "Failover",
        "IngressTls",
        "JournalService",
        "Metrics",
        "PathIngress",
        "PathRoute",
        "Peer",
        "PodOptions",
        "Quota",
        "Redis",
        "Resources",
        "RestrictedNamespace",
        "Route",
        "ServiceMonitor",
        "StaticSite",
        "Workload",
        "adopt_restricted",
        "capacity_problems",
        "chart_manifests",
        "content_hash",
        "restricted_container_security",
        "restricted_pod_security",
    }


def test_library_reads_no_files_or_environment_and_imports_no_app_code() -> None:
    forbidden_modules = {"os", "pathlib", "io", "imports", "journal_tools", "app"}
    forbidden_names = {"open", "environ", "getenv", "read_text", "read_bytes", "listdir"}
    for module in (ROOT / "constructs" / "journal_k8s").glob("*.py"):
        tree = ast.parse(module.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                imported = {(node.module or "").split(".")[0]} if node.level == 0 else set()
            else:
                imported = set()
            assert not imported & forbidden_modules, f"{module.name} imports {imported}"
            name = getattr(node, "id", None) or getattr(node, "attr", None)
            assert name not in forbidden_names, f"{module.name}:{node.lineno} uses {name}"  # type: ignore[attr-defined]


def test_the_version_is_the_installed_distributions() -> None:
    assert journal_k8s.__version__ == importlib.metadata.version("journal-k8s")
    assert journal_k8s.__version__.count(".") == 2


def test_the_changelog_has_a_section_for_this_version() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    headings = re.findall(r"^## \[([^]]+)\](?: - (\d{4}-\d\d-\d\d))?$", changelog(), re.M)
    assert headings[0] == ("Unreleased", "")
    assert headings[1][0] == version and headings[1][1], "the release has a dated section"
    for section in ("Added", "Changed", "Fixed", "Manifests"):
        assert f"### {section}" in changelog().split("## [", 3)[2], section


def changelog() -> str:
    return (ROOT / "CHANGELOG.md").read_text()


@pytest.mark.parametrize("construct", CONSTRUCTS, ids=lambda c: c.__name__)
def test_help_and_inspect_show_the_constructor_arguments(construct: type) -> None:
    signature = inspect.signature(construct)
    parameters = list(signature.parameters.values())
    assert [p.name for p in parameters[:2]] == ["scope", "id"]
    assert all(p.kind is p.KEYWORD_ONLY for p in parameters[2:])
    assert parameters[2:], "the keyword arguments show"
    assert str(parameters[0].annotation) == "<class 'constructs.Construct'>"
    assert f"{construct.__name__}{signature}" in pydoc.render_doc(
        construct, renderer=pydoc.plaintext
    )


def test_a_users_subclass_shows_its_own_arguments() -> None:
    class Team(journal_k8s.Redis):
        def __init__(self, scope: constructs.Construct, id: str, *, team: str) -> None:
            super().__init__(scope, id, name=team)

    assert list(inspect.signature(Team).parameters) == ["scope", "id", "team"]
    assert list(inspect.signature(journal_k8s.Redis).parameters)[2] == "name"


def test_tests_are_grouped_and_only_behaviour_runs_real_servers() -> None:
    """tests/library (constructs), tests/tools (commands), tests/behaviour (real servers): a
    module marked ``real`` (root, network namespaces) lives in behaviour, so the other two
    groups always run without root."""
    tests = ROOT / "tests"
    assert sorted(p.name for p in tests.glob("test_*.py")) == []
    groups = {p.parent.name for p in tests.glob("*/test_*.py")}
    assert groups == {"library", "tools", "behaviour"}
    real = {
        p.relative_to(tests).parts[0]
        for p in tests.glob("*/test_*.py")
        if re.search(r"^(pytestmark = |@)pytest\.mark\.real\b", p.read_text(), re.MULTILINE)
    }
    assert real == {"behaviour"}
