"""A broken baseline template stops `scripts/netdev` with status 2 before any device is contacted, naming the
template, the line and the variable (or the syntax rule), never with a Python traceback."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from baseline import REPO_ROOT
from baseline.netdev import render as render_mod
from baseline.netdev.cli import main

from .conftest import make_inventory


def _broken(tmp_path: Path, vendor: str, line_no: int, text: str) -> Path:
    root = tmp_path / "network_configs"
    shutil.copytree(REPO_ROOT / "network_configs", root)
    path = root / vendor / "baseline.j2"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines.insert(line_no - 1, text + "\n")
    path.write_text("".join(lines), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory, vault_env: str) -> Iterator[tuple[Path, list[socket.socket]]]:
    """A throw-away inventory whose device ports are listened on: a connection attempt would show there."""
    inv = make_inventory(tmp_path_factory.mktemp("templates"), vault_env)
    listeners = _listening(inv)
    yield inv, listeners
    for sock in listeners:
        sock.close()


def _listening(inv: Path) -> list[socket.socket]:
    listeners = []
    data = yaml.safe_load((inv / "devices.yml").read_text(encoding="utf-8"))
    for group in data["network_devices"]["children"].values():
        for host in group["hosts"].values():
            sock = socket.socket()
            sock.bind(("127.0.0.1", host["ansible_port"]))
            sock.listen(8)
            sock.setblocking(False)
            listeners.append(sock)
    return listeners


BROKEN = [
    ("huawei", " info-center loghost {{ log_server_adress }}",
     "line 4: undefined variable 'log_server_adress' ('log_server_adress' is undefined)"),
    ("h3c", "{% for x in ntp_servers %}\n ntp-service unicast-server {{ x.adress.first }}\n{% endfor %}",
     "line 5: undefined variable 'adress'"),
    ("cisco", "{% if role == 'core' %}\nlogging host 192.0.2.1\n{% endfi %}",
     "network_configs/cisco/baseline.j2 line 6: template syntax error: Encountered unknown tag 'endfi'"),
]
COMMANDS = [["push"], ["push", "--dry-run", "--show-commands"], ["audit"], ["render"]]


@pytest.mark.parametrize("case", [(*broken, command) for broken in BROKEN for command in COMMANDS],
                         ids=lambda case: f"{case[0]}-{'-'.join(case[3])}")
def test_template_error_exits_2_naming_template_line_and_variable_before_any_device(
        watched, tmp_path, capsys, monkeypatch, case):
    vendor, text, expected, command = case
    inv, listeners = watched
    monkeypatch.setattr(render_mod, "TEMPLATES", _broken(tmp_path, vendor, 4, text))
    rc = main(["-q", "-i", str(inv), *command])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "refused before contacting any device" in err
    assert "Traceback" not in err
    assert f"network_configs/{vendor}/baseline.j2 line" in err and expected in err, err
    if "syntax" in expected:
        assert err.count(expected) == 1, "a syntax error is named once, not once per device"
    for sock in listeners:
        with pytest.raises(BlockingIOError):
            sock.accept()
