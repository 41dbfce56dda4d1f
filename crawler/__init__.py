

from importlib import metadata as _metadata

try:   # the version's one home is pyproject.toml
    __version__ = _metadata.version("content-audit")
except _metadata.PackageNotFoundError:   # run from a clone that was never installed
    __version__ = "0+unknown"
