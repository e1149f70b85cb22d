"""Sync ids are the only thing between a caller and someone else's job record, so they must not be guessable:
128 bits from the operating system's CSPRNG, in a fixed shape the API validates."""

from __future__ import annotations

import os
import random
import re

from pydantic import TypeAdapter

from limio_sync.ids import new_sync_id
from limio_sync.models import SyncId

SHAPE = re.compile(r"^sync-[0-9a-f]{32}$")
SAMPLES = 4000


def random_bits(sync_id: str) -> int:
    return int(sync_id.removeprefix("sync-"), 16)


def test_a_sync_id_is_sync_and_32_hex_digits_as_the_api_and_the_state_machine_expect():
    for _ in range(100):
        sync_id = new_sync_id()
        assert SHAPE.fullmatch(sync_id)
        assert TypeAdapter(SyncId).validate_python(sync_id) == sync_id


def test_sync_ids_do_not_repeat():
    ids = [new_sync_id() for _ in range(SAMPLES)]

    assert len(set(ids)) == SAMPLES


def test_every_one_of_the_128_bits_varies_like_a_coin():
    # A uuid4 fixes 6 of its bits, a time-based id (uuid1, ULID) fixes its high bits for a while: either shows here.
    values = [random_bits(new_sync_id()) for _ in range(SAMPLES)]

    for bit in range(128):
        ones = sum((value >> bit) & 1 for value in values)
        assert 0.4 < ones / SAMPLES < 0.6, f"bit {bit} is set in {ones} of {SAMPLES} ids"


def test_consecutive_ids_share_no_more_prefix_than_chance():
    ids = [new_sync_id().removeprefix("sync-") for _ in range(SAMPLES)]
    shared = [len(os.path.commonprefix([a, b])) for a, b in zip(ids, ids[1:], strict=False)]

    # Two random hex strings share a first digit 1 time in 16; a counter or a clock would make that almost always.
    assert sum(1 for n in shared if n >= 1) < SAMPLES / 8
    assert max(shared) < 8


def test_seeding_pythons_random_module_does_not_reproduce_an_id():
    random.seed(1234)
    first = new_sync_id()
    random.seed(1234)

    assert new_sync_id() != first
