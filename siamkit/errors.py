"""User-facing errors: each names the file, field or value at fault and the fix.

The command line prints a ``SiamkitError`` without a traceback and exits with code 2.
"""


class SiamkitError(Exception):
    """An error the user can fix; the message says what and how."""


class ImageLoadError(SiamkitError):
    """An image file that cannot be decoded.

    Also constructible from one finished message: that is how torch re-raises an error from
    a DataLoader worker in the main process.
    """

    def __init__(self, source: str, reason: str | None = None):
        self.source = source
        self.reason = reason
        super().__init__(source if reason is None else f"cannot read image {source}: {reason}")


class ConfigError(SiamkitError):
    """A configuration value that is missing, unknown or inconsistent."""


class WeightsNotFoundError(SiamkitError):
    """Pretrained weights that cannot be had (offline, wrong tag or path)."""
