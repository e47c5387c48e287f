from itertools import pairwise

from cryptoviz.lake.kafka_source import KafkaRange, KafkaStreamReader


def ranges(chunk: int, start: dict, end: dict) -> list[tuple[int, int, int]]:
    reader = KafkaStreamReader({"bootstrap": "unused:9092", "topic": "t", "chunkSize": str(chunk)})
    out = []
    for r in reader.partitions(start, end):
        assert isinstance(r, KafkaRange)
        out.append((r.partition, r.start, r.end))
    return out


def test_each_partition_is_cut_in_the_fewest_pieces_of_about_one_size():
    got = ranges(50_000, {"0": 0, "1": 10}, {"0": 55_000, "1": 40_010})
    assert got == [(0, 0, 27_500), (0, 27_500, 55_000), (1, 10, 40_010)]


def test_the_pieces_cover_every_offset_once_and_no_piece_is_over_the_chunk():
    for size in (1, 2, 99, 100, 101, 299, 12_345):
        got = ranges(100, {"0": 7}, {"0": 7 + size})
        assert got[0][1] == 7 and got[-1][2] == 7 + size
        assert all(a[2] == b[1] for a, b in pairwise(got))
        assert all(0 < hi - lo <= 100 for _, lo, hi in got)
        assert len(got) == -(-size // 100)
        assert max(hi - lo for _, lo, hi in got) - min(hi - lo for _, lo, hi in got) <= 1


def test_a_partition_with_nothing_new_makes_no_task():
    assert ranges(100, {"0": 5, "1": 3}, {"0": 5, "1": 4}) == [(1, 3, 4)]
    assert ranges(100, {}, {"0": 0}) == []
