"""What an encoder is made of, as data: ``ModuleSpec`` (class path + constructor arguments)
for the backbone and the head, so that an encoder folder rebuilds its architecture without
the training config, however the model was built (from YAML or in Python).

Backbones and heads record their constructor arguments with ``@records_init_args``.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from dataclasses import dataclass
from typing import Any, Callable, Optional

from torch import nn

from siamkit.errors import ConfigError

#: constructor arguments that fetch pretrained weights: nulled when rebuilding, since the
#: weights then come from the encoder folder or checkpoint
_PRETRAINED_ARGS = ("pretrained", "weights")


def records_init_args(init: Optional[Callable] = None, *, exclude: tuple[str, ...] = ()) -> Callable:
    """Decorates a module's ``__init__`` so that ``ModuleSpec.of(module)`` can rebuild it;
    ``exclude`` names arguments the builder supplies (a head's input size, from the backbone)."""

    def decorate(init: Callable) -> Callable:
        signature = inspect.signature(init)

        @functools.wraps(init)
        def wrapper(self: nn.Module, *args: Any, **kwargs: Any) -> None:
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            init(self, *args, **kwargs)
            arguments = {k: v for k, v in list(bound.arguments.items())[1:] if k not in exclude}
            self.__dict__["_recorded_init"] = (wrapper, arguments)  # the outermost __init__ writes last

        return wrapper

    return decorate(init) if init is not None else decorate


@dataclass(frozen=True)
class ModuleSpec:
    """``{"class_path": "pkg.module.Class", "init_args": {...}}``, as in LightningCLI configs."""

    class_path: str
    init_args: dict[str, Any]

    @classmethod
    def of(cls, module: nn.Module) -> "ModuleSpec":
        recorded = module.__dict__.get("_recorded_init")
        kind = type(module)
        if recorded is None or kind.__init__ is not recorded[0]:
            raise ConfigError(
                f"{kind.__name__} does not record its constructor arguments, so an encoder made with it "
                "cannot be saved and rebuilt; decorate its __init__ with @siamkit.models.records_init_args"
            )
        return cls(f"{kind.__module__}.{kind.__qualname__}", dict(recorded[1]))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ModuleSpec":
        return cls(values["class_path"], dict(values.get("init_args") or {}))

    def to_dict(self) -> dict[str, Any]:
        return {"class_path": self.class_path, "init_args": self.init_args}

    def offline(self) -> "ModuleSpec":
        """The same architecture, with nothing to download: weights come from elsewhere."""
        return ModuleSpec(self.class_path, {k: (None if k in _PRETRAINED_ARGS else v)
                                            for k, v in self.init_args.items()})

    def build(self, *args: Any) -> nn.Module:
        module_name, _, class_name = self.class_path.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError, ValueError):
            raise ConfigError(f"unknown class {self.class_path!r} in the encoder's architecture") from None
        return cls(*args, **self.init_args)


@dataclass(frozen=True)
class EncoderSpec:
    """A backbone and an optional head (built with the backbone's feature size)."""

    backbone: ModuleSpec
    head: Optional[ModuleSpec] = None

    @classmethod
    def of(cls, backbone: nn.Module, head: Optional[nn.Module]) -> "EncoderSpec":
        return cls(ModuleSpec.of(backbone), ModuleSpec.of(head) if head is not None else None)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "EncoderSpec":
        head = values.get("head")
        return cls(ModuleSpec.from_dict(values["backbone"]), ModuleSpec.from_dict(head) if head else None)

    def to_dict(self) -> dict[str, Any]:
        return {"backbone": self.backbone.to_dict(), "head": self.head.to_dict() if self.head else None}
