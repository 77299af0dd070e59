"""Whole numbers on the command line stay whole numbers for Lightning's int-or-float options.

``Trainer(limit_train_batches=1)`` is one batch and ``1.0`` is all of them; the same holds for the
other ``limit_*_batches``, ``val_check_interval`` and ``overfit_batches``. Lightning annotates them
``Optional[Union[int, float]]`` and jsonargparse tries a Union's types in order, so ``1`` parses
as an int. But typing caches such Unions by equality, which ignores order (CPython issue
103749): when ``Optional[Union[float, int]]`` (lightning_fabric's gradient clipping) is still in
that cache as Lightning's trainer module is imported, the Trainer gets the float-first Union,
and ``--trainer.limit_train_batches 1`` silently trains on every batch. Which one wins depends on
what was imported before; the test suite hit it. A flat ``Union[int, float, None]`` is cached
under its own order, so rebuilding the hint that way is safe.
"""

from __future__ import annotations

import typing


def integers_before_floats(function: typing.Callable) -> None:
    """Puts ``int`` before ``float`` in each Union that ``function``'s annotations hold, in place."""
    annotations = function.__annotations__
    for name, hint in annotations.items():
        if typing.get_origin(hint) is not typing.Union:
            continue
        members = list(typing.get_args(hint))
        if float in members and int in members and members.index(float) < members.index(int):
            first, second = members.index(float), members.index(int)
            members[first], members[second] = int, float
            annotations[name] = typing.Union[tuple(members)]
