"""The event bus: small versioned events published after commit (issue 8).

:mod:`gateway.events.model` defines the events (no clinical content), :mod:`.bus` the one
:class:`~gateway.events.bus.EventBus` Protocol, :mod:`.memory` the in-process bus of the
embedded default and :mod:`.redis_bus` the Redis Streams bus. Both pass the same contract
suite (``tests/contract/test_event_bus.py``). The database stays the source of truth: the
change feed is rebuilt from ``resource_history``, so losing the bus loses nothing there.
"""
