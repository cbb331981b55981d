from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from smpplib import consts as smpplib_consts
from smpplib.gsm import make_parts

from gateway import smstext as text
from gateway.smstext import (
    GSM_PART_LIMIT,
    GSM_SINGLE_LIMIT,
    UCS2_PART_LIMIT,
    UCS2_SINGLE_LIMIT,
    TextTooLong,
    choose_encoding,
    decode,
    encode,
    segment_count,
    split,
)

UDH_LEN = 6


def body(part: bytes, segments: int) -> bytes:
    return part[UDH_LEN:] if segments > 1 else part


def join_decoded(result: text.SplitResult) -> str:
    return "".join(decode(body(p, result.segments), result.data_coding) for p in result.parts)


# --- alphabet -------------------------------------------------------------


@pytest.mark.parametrize("char", list("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà^{}\\[~]|€"))
def test_gsm_characters_stay_gsm(char: str) -> None:
    assert choose_encoding(f"a{char}b") == "gsm7"


@pytest.mark.parametrize("char", ["ê", "â", "ç", "ô", "î", "œ", "`", "\x1b", "😀", "€\u0301"])
def test_non_gsm_characters_force_ucs2(char: str) -> None:
    assert choose_encoding(f"Merci {char}") == "ucs2"


def test_library_table_filler_is_not_a_character() -> None:
    # smpplib puts '`' at 0x5F where GSM 03.38 has '§'; we must not.
    assert encode("§", "gsm7") == b"\x5f"
    assert decode(b"\x5f", 0) == "§"
    with pytest.raises(ValueError, match="not in the GSM"):
        encode("`", "gsm7")


def test_extension_characters_use_escape() -> None:
    assert encode("€[", "gsm7") == b"\x1b\x65\x1b\x3c"
    assert decode(b"\x1b\x65\x1b\x3c", 0) == "€["


def test_ucs2_encodes_emoji_as_surrogate_pair() -> None:
    assert encode("😀", "ucs2") == b"\xd8\x3d\xde\x00"


# --- decode never raises --------------------------------------------------


def test_decode_tolerates_dangling_surrogate_and_odd_length() -> None:
    assert decode(b"\x00a\xd8\x3d", 8) == "a\ufffd"
    assert decode(b"\x00a\x00", 8) == "a\ufffd"


def test_decode_gsm_replaces_high_bytes_and_trailing_escape() -> None:
    assert decode(b"a\xffb\x1b", 0) == "a\ufffdb\ufffd"


def test_decode_latin1_and_ia5() -> None:
    assert decode("café".encode("latin-1"), 3) == "café"
    assert decode(b"hello", 1) == "hello"


@given(st.binary(max_size=300), st.integers(min_value=0, max_value=255))
def test_decode_never_raises(data: bytes, data_coding: int) -> None:
    assert isinstance(decode(data, data_coding), str)


# --- split ----------------------------------------------------------------


def test_single_part_limits() -> None:
    assert split("a" * GSM_SINGLE_LIMIT, 1).parts == [b"a" * 160]
    assert segment_count("a" * 161) == 2
    assert segment_count("ê" * 70) == 1
    assert segment_count("ê" * 71) == 2


def test_long_gsm_has_udh_and_153_septets() -> None:
    result = split("x" * 400, reference=42)
    assert result.segments == 3
    assert result.esm_class == 0x40
    assert [p[:6] for p in result.parts] == [bytes((5, 0, 3, 42, 3, i)) for i in (1, 2, 3)]
    assert [len(p) - 6 for p in result.parts] == [153, 153, 94]


def test_escape_pair_not_cut_where_smpplib_cuts_it() -> None:
    message = "a" * 152 + "€" + "b" * 20
    theirs, _, _ = make_parts(message, smpplib_consts.SMPP_ENCODING_DEFAULT)
    assert theirs[0].endswith(b"\x1b")  # the library breaks the euro sign in two

    ours = split(message, 7)
    assert not any(p.endswith(b"\x1b") for p in ours.parts)
    assert join_decoded(ours) == message


def test_surrogate_pair_not_cut_where_smpplib_cuts_it() -> None:
    message = "a" * 66 + "😀" + "b" * 10
    theirs, _, _ = make_parts(message, smpplib_consts.SMPP_ENCODING_ISO10646)
    assert 0xDC00 <= int.from_bytes(theirs[1][6:8], "big") <= 0xDFFF  # lone low surrogate

    ours = split(message, 7)
    assert ours.segments == 2
    assert join_decoded(ours) == message
    assert len(body(ours.parts[0], 2)) == 132  # the emoji moved whole to part 2


def test_too_many_parts_is_an_error() -> None:
    assert segment_count("a" * 153 * 256) == 256
    with pytest.raises(TextTooLong):
        split("a" * 153 * 256, 1)
    assert split("a" * 153 * 255, 1).segments == 255


def test_reference_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"0\.\.255"):
        split("hi", 256)


def test_lone_surrogate_in_python_str_becomes_replacement() -> None:
    assert decode(encode("a\ud83d", "ucs2"), 8) == "a\ufffd"


gsm_chars = st.sampled_from(sorted(set(text.GSM_BASIC) | set(text.GSM_EXTENSION)))
any_text = st.one_of(
    st.text(gsm_chars, max_size=700),
    st.text(max_size=400),
    st.lists(
        st.sampled_from(["é", "ê", "😀", "€", "a", "👍🏽", "[", " "]), max_size=500
    ).map("".join),
)


@given(any_text, st.integers(min_value=0, max_value=255))
def test_split_round_trips_and_respects_limits(message: str, reference: int) -> None:
    result = split(message, reference)
    assert join_decoded(result) == message
    assert result.segments == len(result.parts) == segment_count(message)
    single = GSM_SINGLE_LIMIT if result.encoding == "gsm7" else UCS2_SINGLE_LIMIT
    multi = GSM_PART_LIMIT if result.encoding == "gsm7" else UCS2_PART_LIMIT
    for part in result.parts:
        payload = body(part, result.segments)
        assert len(payload) <= (single if result.segments == 1 else multi)
        if result.encoding == "gsm7":
            assert not payload.endswith(b"\x1b")
        elif payload:
            assert not 0xDC00 <= int.from_bytes(payload[:2], "big") <= 0xDFFF
            assert not 0xD800 <= int.from_bytes(payload[-2:], "big") <= 0xDBFF
