"""User-facing errors: each names the file, field or value at fault and the fix.

The command line prints a ``SiamkitError`` without a traceback and exits with code 2.
"""


class SiamkitError(Exception):
    """An error the user can fix; the message says what and how."""


class ImageLoadError(SiamkitError):
    """An image file that cannot be decoded."""

    def __init__(self, source: str, reason: str):
        self.source = source
        self.reason = reason
        super().__init__(f"cannot read image {source}: {reason}")

    def __reduce__(self):  # keeps the two fields when raised inside a DataLoader worker
        return type(self), (self.source, self.reason)


class ConfigError(SiamkitError):
    """A configuration value that is missing, unknown or inconsistent."""


class WeightsNotFoundError(SiamkitError):
    """Pretrained weights that cannot be had (offline, wrong tag or path)."""
