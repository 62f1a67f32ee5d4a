"""The registry of check kinds: one module each, looked up by the rubric's ``kind:`` key."""
from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field

from . import (evaluate, figures, gradient, imports, manual, properties, side_effect, stability, statistical,
               value)

_MODULES = (value, stability, statistical, gradient, properties, side_effect, evaluate, figures, imports, manual)
REGISTRY = {m.Params.model_fields["kind"].annotation.__args__[0]: m.KIND for m in _MODULES}

AnyCheck = Annotated[Union[tuple(m.Params for m in _MODULES)], Field(discriminator="kind")]


def kind_of(params):
    return REGISTRY[params.kind]
