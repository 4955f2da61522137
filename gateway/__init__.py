"""dmp-gateway: a DMP-style shared health-record exchange gateway.

Importing this package has no side effects: it reads no environment variable and
opens no connection. Everything is built by :func:`gateway.app.create_app`.
"""

__version__ = "0.1.0"
