"""Who is calling: the caller context that every repository call is bound to."""
