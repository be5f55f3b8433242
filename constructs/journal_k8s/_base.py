"""The base of every journal construct: a ``constructs.Construct`` whose signature shows."""

from __future__ import annotations

import inspect
from typing import Any

from constructs import Construct


class _InitSignature:
    """A class's ``__signature__``: its ``__init__`` without ``self``, annotations resolved.

    ``constructs.Construct`` has jsii's metaclass, whose ``__call__(*args, **kwargs)`` is
    what ``inspect.signature`` and ``help()`` would otherwise show for every subclass.
    """

    def __get__(self, instance: object, owner: type) -> inspect.Signature:
        init = owner.__init__  # type: ignore[misc]  # the class's own, which is what we show
        try:
            signature = inspect.signature(init, eval_str=True)
        except NameError:  # an annotation names something only a type checker imports
            signature = inspect.signature(init)
        return signature.replace(parameters=list(signature.parameters.values())[1:])


class JournalConstruct(Construct):
    """A construct of this library: ``help()`` and ``inspect.signature`` show its arguments."""

    __signature__: Any = _InitSignature()
