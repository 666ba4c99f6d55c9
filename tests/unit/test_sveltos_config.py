"""The `sveltos` block (dsxbus.sveltos.config): mistakes the model refuses as it parses."""

from __future__ import annotations

import pytest

from tests.unit.stackconfigs import cpc_with_sveltos, sveltos_block


def test_streams_under_nats_are_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match=r"streams go under sveltos\.jetstream"):
        cpc_with_sveltos(
            sveltos_block(nats={"subjects": ["command.user.>"], "streams": [{"name": "USERS", "subjects": ["x"]}]})
        )
