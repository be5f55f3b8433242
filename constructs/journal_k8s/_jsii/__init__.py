r'''
# journal-k8s-bulk

The jsii assembly of the `journal-k8s` library: a transport between its Python side and Node.
`src/index.ts` is its source; `make assembly` compiles it with jsii and generates the Python
binding (`journal_k8s._jsii`) with jsii-pacmak. See the project README, "The jsii assembly".
'''
from __future__ import annotations

from pkgutil import extend_path
__path__ = extend_path(__path__, __name__)

import abc
import builtins
import datetime
import enum
import typing

import jsii
import publication
import typing_extensions

from jsii._type_checking import cached_type_hints, check_type


from ._jsii import *

class _LazyImport:
    def __init__(self, module_name: str) -> None:
        self._module_name = module_name
        self._module: typing.Any = None
    def __getattr__(self, name: str) -> typing.Any:
        if self._module is None:
            import importlib
            self._module = importlib.import_module(self._module_name)
        return getattr(self._module, name)

if typing.TYPE_CHECKING:

    import cdk8s as _cdk8s_d3d9af27
    import constructs as _constructs_77d1e7e8
else:

    _cdk8s_d3d9af27 = _LazyImport("cdk8s")
    _constructs_77d1e7e8 = _LazyImport("constructs")


@jsii.interface(jsii_type="journal-k8s-bulk.IRules")
class IRules(typing_extensions.Protocol):
    '''What the library's Python side does at synth (see ``Manifests.useRules``).'''

    @jsii.member(jsii_name="render")
    def render(self, key: jsii.Number) -> typing.Any:
        '''The value of ``{"$lazy": key}``.

        :param key: -
        '''
        ...

    @jsii.member(jsii_name="validate")
    def validate(self, objects: builtins.str) -> builtins.str:
        '''The problems of an app, as a JSON array of [construct path, or null, message].

        ``objects`` is
        every API object of the app, as a JSON array of [construct path, manifest (after every JSON
        patch), whether a journal construct made it].

        :param objects: -
        '''
        ...


class _IRulesProxy:
    '''What the library's Python side does at synth (see ``Manifests.useRules``).'''

    __jsii_type__: typing.ClassVar[str] = "journal-k8s-bulk.IRules"

    @jsii.member(jsii_name="render")
    def render(self, key: jsii.Number) -> typing.Any:
        '''The value of ``{"$lazy": key}``.

        :param key: -
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__57e6bae3cccda149269d1d13ea36c9bac298cb70b354df0d58725fae9c3e86d0)
            check_type(argname="argument key", value=key, expected_type=type_hints["key"])
        return typing.cast(typing.Any, jsii.invoke(self, "render", [key]))

    @jsii.member(jsii_name="validate")
    def validate(self, objects: builtins.str) -> builtins.str:
        '''The problems of an app, as a JSON array of [construct path, or null, message].

        ``objects`` is
        every API object of the app, as a JSON array of [construct path, manifest (after every JSON
        patch), whether a journal construct made it].

        :param objects: -
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__df023bf0c83a4b80872f4b69076034de680421a8a8187ea0a2aeda9d1e4eaf71)
            check_type(argname="argument objects", value=objects, expected_type=type_hints["objects"])
        return typing.cast(builtins.str, jsii.invoke(self, "validate", [objects]))

# Adding a "__jsii_proxy_class__(): typing.Type" function to the interface
typing.cast(typing.Any, IRules).__jsii_proxy_class__ = lambda : _IRulesProxy


class Manifests(metaclass=jsii.JSIIMeta, jsii_type="journal-k8s-bulk.Manifests"):
    '''The library's transport: its methods move data between Python and Node and decide nothing.'''

    @jsii.member(jsii_name="define")
    @builtins.classmethod
    def define(
        cls,
        scopes: typing.Sequence["_constructs_77d1e7e8.IConstruct"],
        objects: builtins.str,
        refs: typing.Sequence[typing.Any],
        patches: builtins.str,
    ) -> builtins.str:
        '''Defines, in one call, API objects under ``scopes``.

        Each [scope index, id, value] of ``objects``
        (a JSON array) becomes one child of ``scopes[index]``: a ``k8s.Kube<Kind>Props`` struct a
        ``k8s.Kube<Kind>`` holding exactly the manifest that ``k8s.Kube<Kind>.manifest`` renders (so JSON
        patches apply to the final manifest, see ``rendered``); a ``<cdk8s-plus>.ServiceProps`` struct a cdk8s-plus
        Service, whose selector is the struct's ``$selectLabels``; ``{"$manifest": m}`` an ApiObject of
        the manifest m, an instance of the L1 or CRD class of jsii type ``class`` when given. Then adds each [scope index, id, operation] of ``patches`` (an RFC 6902
        "add" or "remove") to that ApiObject. Values
        ``{"$jsii.ref": i}`` stand for ``refs[i]`` (Quantity and IntOrString objects),
        ``{"$jsii.enum": [fqn, member]}`` for enum members, ``{"$lazy": key}`` for a value made at
        synth by the library's Python side (``useRules``). The first call for an app adds the
        validation of ``useRules`` to its root. Returns the namespace of each scope's chart, as a
        JSON array (null where none).

        :param scopes: -
        :param objects: -
        :param refs: -
        :param patches: -
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__a936e8f0b6a16252c18ac4419d24b28c5fce128d03bc3967d593b6a2629cea6c)
            check_type(argname="argument scopes", value=scopes, expected_type=type_hints["scopes"])
            check_type(argname="argument objects", value=objects, expected_type=type_hints["objects"])
            check_type(argname="argument refs", value=refs, expected_type=type_hints["refs"])
            check_type(argname="argument patches", value=patches, expected_type=type_hints["patches"])
        return typing.cast(builtins.str, jsii.sinvoke(cls, "define", [scopes, objects, refs, patches]))

    @jsii.member(jsii_name="describe")
    @builtins.classmethod
    def describe(
        cls,
        constructs: typing.Sequence["_constructs_77d1e7e8.IConstruct"],
    ) -> builtins.str:
        '''What the journal constructs need of constructs they did not make (cdk8s-plus workloads, Services and pod selectors), as a JSON array: each one's namespace, construct path, name, container ports, and its pod selector (or, for a Service, its ports and selector).

        :param constructs: -
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__6f248e6d7085c5bd04d278c5555a7889d74c5ee54265b065dbbb0453763ed6c6)
            check_type(argname="argument constructs", value=constructs, expected_type=type_hints["constructs"])
        return typing.cast(builtins.str, jsii.sinvoke(cls, "describe", [constructs]))

    @jsii.member(jsii_name="namespaces")
    @builtins.classmethod
    def namespaces(
        cls,
        constructs: typing.Sequence["_constructs_77d1e7e8.IConstruct"],
    ) -> builtins.str:
        '''The namespace of each construct's closest chart, as a JSON array (null where none).

        :param constructs: -
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__c1fb50b2bad672ec14cc79a44ab3d6dfcac2ea27ec5cc3e864dd7202d4d94dd4)
            check_type(argname="argument constructs", value=constructs, expected_type=type_hints["constructs"])
        return typing.cast(builtins.str, jsii.sinvoke(cls, "namespaces", [constructs]))

    @jsii.member(jsii_name="render")
    @builtins.classmethod
    def render(cls, chart: "_cdk8s_d3d9af27.Chart") -> builtins.str:
        '''The chart's manifests, exactly as ``chart.toJson()`` renders them, as one JSON array; where the library's validation of this synth already sent an object's manifest to Python (see ``IRules.validate``), its index there stands for it.

        :param chart: -
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__854a9affea7f8d7f5cd0c4e81aa349635a993c6bfedd85e7d277a664cdea541f)
            check_type(argname="argument chart", value=chart, expected_type=type_hints["chart"])
        return typing.cast(builtins.str, jsii.sinvoke(cls, "render", [chart]))

    @jsii.member(jsii_name="useRules")
    @builtins.classmethod
    def use_rules(cls, python: "IRules") -> None:
        '''Hands over the library's Python side: ``python.validate`` becomes a validation of every app's root (added by the first ``define`` in the app; problems with a construct path are reported by cdk8s under that path), and ``python.render(key)`` produces each ``{"$lazy": key}`` value at synth.

        :param python: -
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__5ef2d22ef564b9a6793283af5199c546c2b1d2b52d5a6cd9e28960e607d6cce4)
            check_type(argname="argument python", value=python, expected_type=type_hints["python"])
        return typing.cast(None, jsii.sinvoke(cls, "useRules", [python]))


__all__ = [
    "IRules",
    "Manifests",
]

publication.publish()

def _typecheckingstub__57e6bae3cccda149269d1d13ea36c9bac298cb70b354df0d58725fae9c3e86d0(
    key: jsii.Number,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__df023bf0c83a4b80872f4b69076034de680421a8a8187ea0a2aeda9d1e4eaf71(
    objects: builtins.str,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__a936e8f0b6a16252c18ac4419d24b28c5fce128d03bc3967d593b6a2629cea6c(
    scopes: typing.Sequence[_constructs_77d1e7e8.IConstruct],
    objects: builtins.str,
    refs: typing.Sequence[typing.Any],
    patches: builtins.str,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__6f248e6d7085c5bd04d278c5555a7889d74c5ee54265b065dbbb0453763ed6c6(
    constructs: typing.Sequence[_constructs_77d1e7e8.IConstruct],
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__c1fb50b2bad672ec14cc79a44ab3d6dfcac2ea27ec5cc3e864dd7202d4d94dd4(
    constructs: typing.Sequence[_constructs_77d1e7e8.IConstruct],
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__854a9affea7f8d7f5cd0c4e81aa349635a993c6bfedd85e7d277a664cdea541f(
    chart: _cdk8s_d3d9af27.Chart,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__5ef2d22ef564b9a6793283af5199c546c2b1d2b52d5a6cd9e28960e607d6cce4(
    python: IRules,
) -> None:
    """Type checking stubs"""
    pass

for cls in [IRules]:
    typing.cast(typing.Any, cls).__protocol_attrs__ = typing.cast(typing.Any, cls).__protocol_attrs__ - set(['__jsii_proxy_class__', '__jsii_type__'])
