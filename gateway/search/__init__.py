"""Search: the parameter registry, pure index extraction and the query grammar."""
