"""The project's domain exceptions; the CLI turns each into one `Error: ...` line and exit 2."""


class AuditError(Exception):
    """Unusable input or set-up. The message says what is wrong and how to fix it."""


class ConfigError(AuditError):
    """A bad option or config file."""


class StoreError(AuditError):
    """The database cannot be opened or used."""
