"""Linux server settings computed from the inventory, shared by the roles (filter plugin) and the compliance tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def services_for(services: Sequence[Mapping[str, Any]], groups: Iterable[str]) -> list[Mapping[str, Any]]:
    """Inbound services (server_inbound_services) that apply to a host in `groups`."""
    member = set(groups) | {"all"}
    return [s for s in services if member & set(s.get("groups", []))]
