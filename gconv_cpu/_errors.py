"""Exception types. Every error names the parameter at fault."""


class SizeOverflowError(ValueError, OverflowError):
    """A shape or buffer size does not fit in 64 bits; raised before anything is allocated.

    It is a ValueError (bad input) and an OverflowError (what it is), so either catch works.
    """
