"""The ML cards' binary layout: what the processor writes reads back as the same card, a value that
is not a card of the layout fails the all-at-once decode (and is refused on its own), a card in the
msgpack written before the layout is still read, and the columns agree with the cards."""

from __future__ import annotations

import msgspec
import pytest

from cryptoviz import contracts
from cryptoviz.contracts import CARD_MAGIC, CARD_SIZE, ContractError, MLCard, encode_card
from cryptoviz.contracts.cards import Cards, decode_card, decode_card_table, decode_cards


def card(symbol: str = "BTC", **kw: object) -> MLCard:
    fields: dict = dict(symbol=symbol, event_ts=1.0, price=2.0, action="BUY", confidence=0.6, p_up=0.6)
    fields |= dict(move_pct=0.1, consensus_1h=1.0, consensus_6h=None, forecast_1h=1.5, forecast_6h=None)
    fields |= dict(updated_ts=3.0, expires_ts=4.0, hits_1h=2, scored_1h=3, calibrated=True, settled_1h=5)
    return MLCard(**(fields | kw))


def test_every_card_has_one_size_and_reads_back_with_its_nones():
    cards = [
        card(),
        card("ETH", action="SELL", calibrated=False, forecast_1h=None),
        card("ÉTH-16-BYTES", action="HOLD"),
    ]
    raws = [encode_card(c) for c in cards]
    assert {len(r) for r in raws} == {CARD_SIZE} and raws[0][0] == CARD_MAGIC
    back = decode_cards(raws)
    assert list(back) == ["BTC", "ETH", "ÉTH-16-BYTES"] and list(back.values()) == cards
    assert "ETH" in back and "SOL" not in back and back.get("SOL") is None
    assert back.actions() == ["BUY", "SELL", "HOLD"]
    assert back.column("scored_1h").tolist() == [3, 3, 3]
    assert back.column("forecast_6h").tolist() != back.column("forecast_6h").tolist()  # NaN: None


def test_a_value_that_is_not_a_card_fails_the_decode_and_alone_is_refused():
    good = encode_card(card())
    wrong_version = good[:1] + b"\x09" + good[2:]
    bad_action = bytearray(good)
    bad_action[2 + 16 + 16] = 7  # the action's byte, after the symbol and two doubles
    nul_inside, empty, control = (
        good[:2] + s.ljust(16, b"\0") + good[18:] for s in (b"A\0B", b"", b"A\x01B")
    )
    for bad in (
        b"",
        good[:-1],
        wrong_version,
        bytes(bad_action),
        bytes(CARD_SIZE),
        nul_inside,
        empty,
        control,
    ):
        with pytest.raises(ContractError, match="MLCard"):
            decode_cards([good, bad])
        with pytest.raises(ContractError, match="MLCard"):
            decode_card(bad)


def test_a_card_the_layout_cannot_hold_is_not_written():
    for bad in (card("A" * 17), card(""), card("A\0B"), card(action="MAYBE")):
        with pytest.raises(ContractError, match="MLCard"):
            encode_card(bad)


def test_a_card_in_the_msgpack_before_the_layout_is_read_on_its_own():
    old = msgspec.msgpack.encode(card())
    assert decode_card(old) == card()
    with pytest.raises(ContractError):
        decode_cards([encode_card(card("ETH")), old])


def test_the_cards_past_their_expiry_drop_out_and_a_symbol_twice_keeps_its_last():
    cards = Cards.build([card("BTC", expires_ts=10.0), card("ETH", expires_ts=20.0), card("BTC", price=9.0)])
    assert list(cards) == ["BTC", "ETH"] and cards["BTC"].price == 9.0
    assert cards.column("price").tolist() == [9.0, 2.0]
    live = cards.live(15.0)
    assert list(live) == ["ETH"] and live.column("expires_ts").tolist() == [20.0]
    assert cards.live(0.0) is cards
    assert Cards.of(cards) is cards and Cards.of({"ETH": card("ETH")}) == {"ETH": card("ETH")}
    with pytest.raises(KeyError):
        cards.column("action")


def test_the_layout_covers_every_field_of_the_card():
    assert [name for name, _ in contracts.CARD_LAYOUT] == list(MLCard.__struct_fields__)


def test_a_table_is_the_cards_one_after_another_and_a_table_cut_short_is_refused():
    cards = [card(), card("ETH", action="SELL")]
    table = b"".join(encode_card(c) for c in cards)
    assert list(decode_card_table(table).values()) == cards and decode_card_table(b"") == {}
    for bad in (table[:-1], table + encode_card(card("SOL"))[:-1]):
        with pytest.raises(ContractError, match="MLCard"):
            decode_card_table(bad)
