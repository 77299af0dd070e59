"""Counts in messages a user reads: "1 image", "3 images", "75,254 pairs"."""


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and the noun, singular for one (``plural`` where adding an s is wrong)."""
    return f"{n:,} {number(n, noun, plural)}"


def number(n: int, noun: str, plural: str | None = None) -> str:
    """The noun alone, in the number ``n`` asks for: "unknown option x", "unknown options x, y"."""
    return noun if n == 1 else plural or noun + "s"


def none_could_be(n: int, noun: str, done: str) -> str:
    """"none of the 3 images could be read", or for one "the one image could not be read"."""
    return f"the one {noun} could not be {done}" if n == 1 else f"none of the {n:,} {noun}s could be {done}"
