"""Provider errors mapped to a few neutral kinds (see `mailferry.provider_errors` for the table).

The classes live in the shared core because the Microsoft sign-in code there raises them too;
this module keeps the worker's import path, and they are the very same classes.
"""

from mailferry.provider_errors import ErrorKind, ProviderError

__all__ = ["ErrorKind", "ProviderError"]
