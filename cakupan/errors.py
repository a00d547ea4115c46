"""The one error a run reports to a person instead of a traceback."""


class InputError(Exception):
    """The run cannot start or go on because of its inputs or surroundings; the message is one plain line."""
