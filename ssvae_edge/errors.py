"""The runtime's exceptions: one base class, so a CLI can turn any of them into one line and exit 2."""


class EdgeError(Exception):
    """Something the user can fix (a bad bundle, an unavailable provider, bad input samples)."""


class BundleError(EdgeError):
    """The bundle is missing, tampered with, or does not follow the bundle format (docs/bundle-format.md)."""


class ProviderError(EdgeError):
    """An execution provider that was asked for by name is not available or could not start."""


class InputError(EdgeError, ValueError):
    """Input samples or options that cannot be scored honestly (wrong shape, channels, rate, empty)."""
