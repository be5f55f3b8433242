"""The library's one import of cdk8s-plus: moving to a newer cdk8s-plus changes this module and
the jsii assembly's ``package.json`` (its dependency), nothing else."""

import cdk8s_plus_27 as kplus
from cdk8s_plus_27 import k8s

ASSEMBLY = "cdk8s-plus-27"
"""cdk8s-plus's jsii assembly: the first part of its type names (``cdk8s-plus-27.ServiceProps``)."""

__all__ = ["ASSEMBLY", "k8s", "kplus"]
