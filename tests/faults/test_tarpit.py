"""The tarpit: a held address makes a connect hang (as a dead host's does), a released one is free
again, and the helper's control API does the same from another network namespace."""
from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from caller_view import caller_sees
from harness.faults.tarpit import Tarpit, TarpitClient, TarpitError, serve
from harness.net import free_port


@pytest.fixture
def tarpit() -> Iterator[Tarpit]:
    t = Tarpit()
    yield t
    t.close()


def test_a_held_address_makes_a_connect_hang_not_refuse(tarpit: Tarpit) -> None:
    port = free_port()
    assert caller_sees("127.0.0.1", port, timeout=0.3) == "refused"  # nothing there: refused
    tarpit.hold("127.0.0.1", port)
    assert [caller_sees("127.0.0.1", port, timeout=0.3) for _ in range(3)] == ["connect hangs"] * 3


def test_a_released_address_can_be_listened_on_again(tarpit: Tarpit) -> None:
    port = free_port()
    tarpit.hold("127.0.0.1", port)
    tarpit.release(port)
    assert tarpit.held() == []
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(8)
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    finally:
        server.close()


def test_holding_twice_is_one_hold_and_releasing_an_unheld_port_does_nothing(tarpit: Tarpit) -> None:
    port = free_port()
    tarpit.hold("127.0.0.1", port)
    tarpit.hold("127.0.0.1", port)
    assert tarpit.held() == [port]
    tarpit.release(free_port())
    assert tarpit.held() == [port]


def test_an_address_something_else_listens_on_cannot_be_held_and_the_error_names_it(tarpit: Tarpit) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        with pytest.raises(TarpitError, match=rf"could not hold 127\.0\.0\.1:{port}: Address already in use"):
            tarpit.hold("127.0.0.1", port)
    finally:
        busy.close()


def test_the_helper_holds_and_releases_through_its_control_api() -> None:
    control = free_port()
    threading.Thread(target=serve, args=("127.0.0.1", control), daemon=True).start()
    client = TarpitClient(f"http://127.0.0.1:{control}")
    try:
        client.wait_ready(timeout=5)
        port = free_port()
        client.hold("0.0.0.0", port)  # as in a container: the proxy listened on every address
        assert caller_sees("127.0.0.1", port, timeout=0.3) == "connect hangs"
        client.release(port)
        assert caller_sees("127.0.0.1", port, timeout=0.3) == "refused"
        with pytest.raises(TarpitError, match="answered 409: .*could not hold"):
            client.hold("127.0.0.1", control)  # its own control port is taken
    finally:
        client.close()
