"""The AWS emulation: moto in this process, with the patches the pipeline needs to run on it.

This package is the only code that imports moto's internals (the Lambda bridge, EventBridge
deliveries, redrive, the retry clock, CloudFormation resources).  Those internals change between
releases, so importing it refuses any moto other than the pinned one, rather than failing deep
inside a redrive.  See ``../shared/notes/local-aws.md`` for the moto behaviour this relies on.
"""
from __future__ import annotations

from importlib import metadata

# pyproject.toml's `local` extra pins the same version (tests/unit/emulation/test_guard.py checks).
MOTO_VERSION = "5.2.5"


class MotoVersionError(ImportError):
    """The installed moto is not the version the emulation's patches were written for."""


def require_moto(installed: str | None) -> None:
    """Refuse a moto other than :data:`MOTO_VERSION` (``None``: moto is not installed).

    Raises
    ------
    MotoVersionError
        Naming the version found, the one needed and how to install it.
    """
    if installed == MOTO_VERSION:
        return
    found = f"moto {installed} is installed" if installed else "moto is not installed"
    raise MotoVersionError(
        f"the local AWS emulation patches moto's internals and needs moto {MOTO_VERSION} exactly, but {found}; "
        "install the pinned version with: pip install -e '.[local]'"
    )


def _installed_moto() -> str | None:
    try:
        return metadata.version("moto")
    except metadata.PackageNotFoundError:
        return None


require_moto(_installed_moto())
