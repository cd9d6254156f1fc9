"""The HTTP service (``onshore serve``): FastAPI over the same library the CLI uses.

Needs the ``service`` extra (``pip install 'onshore[service]'``); the rest of Onshore imports
without it. ``create_app`` builds the application for a data home; API keys are kept hashed
in the home's metadata database (:class:`ApiKeys`).
"""

from onshore.service.apikeys import ROLES, ApiKey, ApiKeys, NewKey, Role
from onshore.service.app import create_app
from onshore.service.state import ServiceSettings

__all__ = ["ROLES", "ApiKey", "ApiKeys", "NewKey", "Role", "ServiceSettings", "create_app"]
