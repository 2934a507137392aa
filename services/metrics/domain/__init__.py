"""The arithmetic of metrics: pure functions of records folded from the log.

No database and no web: the service's query layer and a consumer's replay call the same
functions, so they compute the same numbers.
"""
