"""``{edges[NAME]}`` in a manifest's env values: the proxy address of any edge."""
from __future__ import annotations

import pytest

from harness.errors import InputError
from harness.runtime.local import EdgeAddresses, _expand

VALUES = {"host": "127.0.0.1", "port": "9000", "edges": EdgeAddresses({"catalog->db": "127.0.0.1:5501"})}


def test_an_edge_placeholder_expands_to_that_edges_proxy_address() -> None:
    url = _expand("postgresql://postgres@{edges[catalog->db]}/catalog", VALUES, "defects.d.env.users.DATABASE_URL")
    assert url == "postgresql://postgres@127.0.0.1:5501/catalog"


def test_an_unknown_edge_is_an_input_error_that_names_the_field_and_the_known_edges() -> None:
    with pytest.raises(InputError) as info:
        _expand("{edges[catalg->db]}", VALUES, "defects.d.env.users.DATABASE_URL")
    assert str(info.value) == ("defects.d.env.users.DATABASE_URL: unknown edge 'catalg->db' "
                               "(did you mean 'catalog->db'?); known: catalog->db in '{edges[catalg->db]}'")
