"""One exception type the CLI turns into a single line on stderr and a non-zero exit."""


class WarehouseError(Exception):
    """An expected failure with a message fit to show a user as one line.

    Messages must never contain a value read from a data file: they end up in terminals and CI logs.
    """

    exit_code = 1

    def __init__(self, message: str, *, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
