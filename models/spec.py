"""What an encoder is made of, as data: ``ModuleSpec`` (class path + constructor arguments)
for the backbone and the head, so that an encoder folder rebuilds its architecture without
the training config, however the model was built (from YAML or in Python).

Backbones and heads record their constructor arguments with ``@records_init_args``.

A class path read from a file (an encoder folder's config.json, a checkpoint) is data from
whoever handed the file over, so it may only name a class siamkit ships or one registered
with ``register_module`` before loading (timm's registry idea): the name is checked before
anything is imported, and the constructor arguments against the class's signature.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from torch import nn

from siamkit.errors import ConfigError
from siamkit.wording import number

#: the classes siamkit ships that an encoder file may name, by path: checking one imports nothing
SHIPPED_MODULES = frozenset({
    "siamkit.models.backbones.OpenClipBackbone",
    "siamkit.models.backbones.TorchvisionBackbone",
    "siamkit.models.timm_backbone.TimmBackbone",
    "siamkit.models.heads.ProjectionHead",
})
_registered: dict[str, type[nn.Module]] = {}

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


def register_module(cls: type[nn.Module]) -> type[nn.Module]:
    """Lets encoder folders and checkpoints name ``cls`` (a backbone or head of your own whose
    ``__init__`` has ``@records_init_args``); call it, or use it as a decorator, before loading."""
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise TypeError(f"register_module takes an nn.Module subclass, not {cls!r}")
    _registered[_path_of(cls)] = cls
    return cls


def _path_of(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


#: class paths the user trusts for the commands they run (``train export``, ``evaluate`` ...),
#: comma-separated: the command line's ``register_module``
TRUSTED_CLASSES_VARIABLE = "SIAMKIT_TRUSTED_CLASSES"


def _trusted_class(class_path: Any, field: str) -> type[nn.Module]:
    """The class ``class_path`` names, if siamkit ships it, it was registered, or the user named it
    in $SIAMKIT_TRUSTED_CLASSES; refused before any import otherwise."""
    if isinstance(class_path, str) and class_path in _registered:
        return _registered[class_path]
    trusted = SHIPPED_MODULES | set(_registered) | _trusted_by_environment()
    if not isinstance(class_path, str) or class_path not in trusted:
        raise ConfigError(f"{field}: class {class_path!r} is not one siamkit builds from a file (it builds "
                          f"only {', '.join(sorted(trusted))}); nothing was imported. If it is your own "
                          f"class, run the command with {TRUSTED_CLASSES_VARIABLE}={class_path} (its module "
                          "importable, e.g. on PYTHONPATH), or in Python call siamkit.models.register_module "
                          "on it before loading")
    module_name, _, class_name = class_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as error:  # only a class the user trusts gets this far
        raise ConfigError(f"{field}: class {class_path}, trusted by {TRUSTED_CLASSES_VARIABLE}, cannot be "
                          f"imported ({error}): put its module on PYTHONPATH") from None
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise ConfigError(f"{field}: {class_path} is not an nn.Module subclass")
    return cls


def _trusted_by_environment() -> set[str]:
    text = os.environ.get(TRUSTED_CLASSES_VARIABLE, "")
    return {name.strip() for name in text.split(",") if name.strip()}


def _check_init_args(cls: type, init_args: Any, field: str) -> None:
    if not isinstance(init_args, dict):
        raise ConfigError(f"{field}.init_args must be a mapping of argument names to values, "
                          f"not {type(init_args).__name__}")
    parameters = inspect.signature(cls).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    if unknown := sorted(set(init_args) - set(parameters)):
        raise ConfigError(f"{field}.init_args: {cls.__name__} takes no {number(len(unknown), 'argument')} "
                          f"{', '.join(unknown)}; it takes {', '.join(parameters)}")


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
        return cls(_path_of(kind), dict(recorded[1]))

    @classmethod
    def from_dict(cls, values: dict[str, Any], field: str = "class_path") -> "ModuleSpec":
        """Checks what a file says before anything is built: a trusted class, known arguments."""
        if not isinstance(values, dict) or "class_path" not in values:
            raise ConfigError(f"{field} must be a mapping with a class_path, not {values!r}")
        init_args = values.get("init_args") or {}
        _check_init_args(_trusted_class(values["class_path"], f"{field}.class_path"), init_args, field)
        return cls(values["class_path"], dict(init_args))

    def to_dict(self) -> dict[str, Any]:
        return {"class_path": self.class_path, "init_args": self.init_args}

    @property
    def pretrained(self) -> Any:
        """The pretrained weights the arguments name (a tag, short name, file or True), or None."""
        return next((self.init_args[k] for k in _PRETRAINED_ARGS if self.init_args.get(k)), None)

    @property
    def from_scratch(self) -> bool:
        """Whether the module takes pretrained weights and is given none: its weights are random."""
        named = [k for k in _PRETRAINED_ARGS if k in self.init_args]
        return bool(named) and not any(self.init_args[k] for k in named)

    def with_weight_files_absolute(self) -> "ModuleSpec":
        """The same, with a pretrained-weights file named by its absolute path: found from any folder."""
        def absolute(key: str, value: Any) -> Any:
            is_file = key in _PRETRAINED_ARGS and isinstance(value, str) and Path(value).is_file()
            return str(Path(value).resolve()) if is_file else value

        return ModuleSpec(self.class_path, {k: absolute(k, v) for k, v in self.init_args.items()})

    def with_weights(self, weights: str) -> "ModuleSpec":
        """The same, with ``weights`` in place of the pretrained weights its arguments name."""
        return ModuleSpec(self.class_path, {k: (weights if k in _PRETRAINED_ARGS and v else v)
                                            for k, v in self.init_args.items()})

    def offline(self) -> "ModuleSpec":
        """The same architecture, with nothing to download: weights come from elsewhere."""
        return ModuleSpec(self.class_path, {k: (None if k in _PRETRAINED_ARGS else v)
                                            for k, v in self.init_args.items()})

    def build(self, *args: Any) -> nn.Module:
        return _trusted_class(self.class_path, "class_path")(*args, **self.init_args)


#: the input sizes an encoder may embed at, as multiples of its own (``EncoderSpec.scales``)
SCALE_RANGE = (0.25, 4.0)


@dataclass(frozen=True)
class EncoderSpec:
    """A backbone and an optional head (built with the backbone's feature size). ``scales``:
    the input sizes the embedding is taken at, as multiples of the backbone's; with more than
    one, the embedding is the normalised mean of each size's (multi-scale descriptors).
    ``mid_level``: no head, and the backbone's pooled features joined by its mid-level ones
    (``Encoder.pooled_features``)."""

    backbone: ModuleSpec
    head: Optional[ModuleSpec] = None
    scales: tuple[float, ...] = (1.0,)
    mid_level: bool = False

    @classmethod
    def of(cls, backbone: nn.Module, head: Optional[nn.Module]) -> "EncoderSpec":
        return cls(ModuleSpec.of(backbone), ModuleSpec.of(head) if head is not None else None)

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str = "architecture") -> "EncoderSpec":
        """``where`` names the file and field in errors (``config.json: architecture``)."""
        if not isinstance(values, dict) or "backbone" not in values:
            raise ConfigError(f"{where} must be a mapping with a backbone, not {values!r}")
        head = values.get("head")
        mid_level = _check_flag(values.get("mid_level", False), f"{where}.mid_level")
        if mid_level and head:
            raise ConfigError(f"{where}: mid_level features are the backbone's and take no head, and it "
                              "names both; export the folder again")
        return cls(ModuleSpec.from_dict(values["backbone"], f"{where}.backbone"),
                   ModuleSpec.from_dict(head, f"{where}.head") if head else None,
                   check_scales(values.get("scales", [1.0]), f"{where}.scales"), mid_level)

    def to_dict(self) -> dict[str, Any]:
        return {"backbone": self.backbone.to_dict(), "head": self.head.to_dict() if self.head else None,
                "scales": list(self.scales), "mid_level": self.mid_level}


def _check_flag(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{field} must be true or false, not {value!r}")
    return value


def check_scales(scales: Any, field: str) -> tuple[float, ...]:
    """``scales`` as a tuple of distinct sizes within ``SCALE_RANGE``, or a ``ConfigError``."""
    low, high = SCALE_RANGE
    if (not isinstance(scales, (list, tuple)) or not scales or len(set(scales)) != len(scales)
            or not all(isinstance(s, (int, float)) and not isinstance(s, bool) and low <= s <= high
                       for s in scales)):
        raise ConfigError(f"{field} must be distinct input-size multiples from {low:g} to {high:g} "
                          f"(e.g. [0.7071, 1, 1.4142]), not {scales!r}")
    return tuple(float(s) for s in scales)
