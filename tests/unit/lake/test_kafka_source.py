from itertools import pairwise

from pyspark.sql.datasource import CaseInsensitiveDict
from pyspark.sql.streaming.datasource import ReadAllAvailable, ReadMaxRows

from cryptoviz.lake.kafka_source import KafkaDataSource, KafkaRange, KafkaStreamReader, capped


def shares(chunk: int, tasks: int, start: dict, end: dict) -> list[list[tuple[int, int, int]]]:
    options = {"bootstrap": "unused:9092", "topic": "t", "chunkSize": str(chunk), "tasks": str(tasks)}
    out = []
    for r in KafkaStreamReader(options).partitions(start, end):
        assert isinstance(r, KafkaRange)
        out.append(r.pieces)
    return out


def test_four_partitions_on_two_cores_make_two_tasks_of_about_one_size():
    got = shares(100_000, 2, {"0": 0, "1": 0, "2": 0, "3": 10}, {"0": 34, "1": 55, "2": 55, "3": 65})
    assert got == [[(0, 0, 34), (1, 0, 55), (2, 0, 10)], [(2, 10, 55), (3, 10, 65)]]  # 99 and 100


def test_a_share_over_the_chunk_is_cut_again():
    got = shares(50_000, 1, {"0": 0, "1": 10}, {"0": 55_000, "1": 40_010})
    assert got == [[(0, 0, 47_500)], [(0, 47_500, 55_000), (1, 10, 40_010)]]


def test_the_shares_cover_every_offset_once_in_order_and_are_within_one_of_each_other():
    for tasks in (1, 2, 3, 8):
        for sizes in ((1,), (2, 0, 5), (99, 100, 101), (299, 7), (12_345, 1, 0, 678)):
            start = {str(p): 7 * p for p in range(len(sizes))}
            end = {str(p): 7 * p + n for p, n in enumerate(sizes)}
            got = shares(100, tasks, start, end)
            pieces = [piece for share in got for piece in share]
            for p, n in enumerate(sizes):  # each partition's pieces, in order, end to end
                mine = [(lo, hi) for q, lo, hi in pieces if q == p]
                if n:
                    assert mine[0][0] == 7 * p and mine[-1][1] == 7 * p + n
                    assert all(a[1] == b[0] for a, b in pairwise(mine))
                assert all(lo < hi for lo, hi in mine)
            lengths = [sum(hi - lo for _, lo, hi in share) for share in got]
            total = sum(sizes)
            assert sum(lengths) == total
            assert len(got) == min(total, max(tasks, -(-total // 100)))
            assert max(lengths) <= 100 or len(got) == tasks
            assert max(lengths) - min(lengths) <= 1


def test_a_partition_with_nothing_new_makes_no_piece():
    assert shares(100, 2, {"0": 5, "1": 3}, {"0": 5, "1": 4}) == [[(1, 3, 4)]]
    assert shares(100, 2, {}, {"0": 0}) == []


def test_options_are_read_whatever_their_case_as_spark_hands_them():
    """Spark lower-cases the names of a source's options: `maxOffsetsPerTrigger` arrives as
    `maxoffsetspertrigger`, which a reader looking up the first name never finds."""
    spark_options = CaseInsensitiveDict(
        {"bootstrap": "b:9092", "topic": "t", "maxOffsetsPerTrigger": "4000", "chunkSize": "50", "tasks": "3"}
    )
    for options in (spark_options, dict(spark_options), {"maxOffsetsPerTrigger": "4000", **spark_options}):
        reader = KafkaStreamReader(options)
        assert (reader.max_offsets, reader.chunk, reader.tasks, reader.starting) == (4000, 50, 3, "earliest")
        assert reader.getDefaultReadLimit() == ReadMaxRows(4000)
    reader = KafkaDataSource(spark_options).streamReader(None)
    assert isinstance(reader, KafkaStreamReader) and reader.max_offsets == 4000
    assert isinstance(
        KafkaStreamReader({"bootstrap": "b", "topic": "t"}).getDefaultReadLimit(), ReadAllAvailable
    )


def test_a_capped_batch_takes_max_rows_shared_in_proportion_to_each_partitions_backlog():
    start = {"0": 100, "1": 0, "2": 50, "3": 7}
    ends = {"0": 100, "1": 3_000, "2": 1_050, "3": 7, "4": 2}  # "4": a partition new since `start`
    got = capped(start, ends, 1_000)
    assert got == {"0": 100, "1": 750, "2": 300, "3": 7, "4": 0}  # of 749.6, 249.9 and 0.5
    assert capped(start, ends, 10_000) == ends
    for max_rows in (1, 2, 3, 7, 999, 1_000, 4_001, 4_002):  # up to the whole backlog
        got = capped(start, ends, max_rows)
        backlog = {p: e - start.get(p, 0) for p, e in ends.items()}
        taken = {p: got[p] - start.get(p, 0) for p in ends}
        assert sum(taken.values()) == min(max_rows, sum(backlog.values()))
        for p in ends:
            assert 0 <= taken[p] <= backlog[p]
            assert abs(taken[p] - backlog[p] * max_rows / sum(backlog.values())) < 1
