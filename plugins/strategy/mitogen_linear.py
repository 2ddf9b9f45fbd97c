"""Ansible's linear strategy over Mitogen (ansible.cfg: `strategy = mitogen_linear`).

Mitogen keeps one Python interpreter per host and user for the whole run and sends modules to it over the SSH
connection, instead of copying and starting each module anew: an idempotent re-apply of the server baseline takes
about a third of the time of the stock strategy on the same host (`baseline bench-linux`). Playbooks, tasks and
results are the same; the connection, become and check mode are Ansible's own. Set ANSIBLE_STRATEGY=linear to run
without it, e.g. to compare or where Mitogen is not installed.

The package is pinned in requirements.txt; its strategy is reached through this module so that ansible.cfg needs no
path into the Python environment.
"""

from __future__ import annotations

from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule

__all__ = ["StrategyModule"]
