"""``steepest bench``: ``measure`` times, ``peers`` are the others, ``hlo`` reads XLA's plan."""

ROUNDS = 7  # the bench's default rounds; here, so that the parser need not import ``measure``
