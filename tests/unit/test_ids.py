"""Run ids: version 7 UUIDs (RFC 9562), ordered by the millisecond they were made in."""
import uuid

from core.runs.run import time_ordered_ids


def test_ids_are_version_7_uuids_with_the_rfc_variant():
    for text in time_ordered_ids(2000):
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122


def test_ids_carry_their_millisecond_and_sort_by_it():
    ms = 1_795_000_000_123
    earlier, later = time_ordered_ids(500, unix_ms=ms), time_ordered_ids(500, unix_ms=ms + 1)
    assert {uuid.UUID(i).int >> 80 for i in earlier} == {ms}
    assert max(earlier) < min(later)


def test_ids_made_in_one_millisecond_are_distinct_and_random():
    ids = time_ordered_ids(50_000, unix_ms=0)
    assert len(set(ids)) == len(ids)
    # Every one of the 74 random bits varies.
    bits = [uuid.UUID(i).int for i in ids]
    random_mask = (1 << 62) - 1 | ((1 << 12) - 1) << 64
    varying = 0
    for value in bits:
        varying |= value ^ bits[0]
    assert varying & random_mask == random_mask


def test_ids_come_in_ascending_order_so_the_first_handed_out_sorts_first():
    ids = time_ordered_ids(1000, unix_ms=1_790_000_000_000)
    assert ids == sorted(ids)
