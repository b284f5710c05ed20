"""Repair of VLM replies into Semantics (no server needed)."""

import json

import pytest

from sggic.errors import ServiceError
from sggic.semantics.repair import (DESCRIPTION_WORDS, DETAIL_WORDS, MAX_VLM_OBJECTS, NotJSONReply,
                                    cut_words, parse_reply)

GOOD = {"objects": [{"name": "nuthatch", "detail": "small bird with blue-grey back"},
                    {"name": "tree trunk", "detail": "rough grey bark"},
                    {"name": "path", "detail": "blurred light grey path"}],
        "description": "A nuthatch clings to a tree trunk."}


def test_clean_reply_needs_no_repair():
    r = parse_reply(json.dumps(GOOD))
    assert r.semantics.to_dict() == GOOD
    assert r.notes == []


@pytest.mark.parametrize("wrap, note", [
    ("```json\n{}\n```", "code fence"),
    ("```\n{}```", "code fence"),
    ("Sure! Here is the JSON you asked for:\n{}\nLet me know if you need more.", "text around"),
    ("{}", None),
])
def test_fences_and_prose_around_the_json(wrap, note):
    r = parse_reply(wrap.replace("{}", json.dumps(GOOD, indent=2)))
    assert r.semantics.to_dict() == GOOD
    if note:
        assert any(note in n for n in r.notes), r.notes


def test_prose_without_json_is_not_json():
    with pytest.raises(NotJSONReply, match="without a JSON object: 'The image shows a small bird"):
        parse_reply("The image shows a small bird on a tree.\n1. Bird: small.\n2. Tree: tall.")
    with pytest.raises(NotJSONReply, match="empty"):
        parse_reply("  \n")


def test_trailing_commas_are_removed():
    text = '{"objects": [{"name": "cat", "detail": "grey",},], "description": "A cat.",}'
    r = parse_reply(text)
    assert r.semantics.objects[0].name == "cat" and r.semantics.description == "A cat."
    assert "removed trailing commas" in r.notes


def test_long_fields_are_cut_at_word_boundaries():
    detail = " ".join(f"word{i}" for i in range(25))
    desc = " ".join(f"w{i}," for i in range(80))
    r = parse_reply(json.dumps({"objects": [{"name": "a very long object name of many words", "detail": detail}],
                                "description": desc}))
    o = r.semantics.objects[0]
    assert o.detail == " ".join(f"word{i}" for i in range(DETAIL_WORDS))
    assert o.name == "a very long object name"
    d = r.semantics.description
    assert len(d.split()) == DESCRIPTION_WORDS and d.endswith("w49")  # trailing comma dropped too
    assert any("cut object 1 detail from 25 to 10 words" in n for n in r.notes)


def test_cut_words_keeps_short_text_and_limits_characters():
    assert cut_words("a b c", 3) == "a b c"
    assert cut_words("a b c d", 3) == "a b c"
    assert cut_words("abc defg hij", 10, max_chars=8) == "abc defg"
    assert cut_words("x" * 50, 10, max_chars=20) == "x" * 20


def test_too_many_objects_keeps_first_three_and_drops_repeats():
    objs = [{"name": n, "detail": n + " detail"} for n in ("cat", "Cat", "sofa", "lamp", "rug")]
    r = parse_reply(json.dumps({"objects": objs, "description": "A room."}))
    assert [o.name for o in r.semantics.objects] == ["cat", "sofa", "lamp"]
    assert len(r.semantics.objects) == MAX_VLM_OBJECTS
    assert any("repeats" in n for n in r.notes) and any("kept the first 3 of 4" in n for n in r.notes)


def test_fewer_objects_are_allowed_with_a_note():
    r = parse_reply('{"objects": [{"name": "moon", "detail": "full"}], "description": "Night sky."}')
    assert len(r.semantics.objects) == 1
    assert any("named 1 object" in n for n in r.notes)


def test_wrong_types_and_key_spellings():
    text = json.dumps({"result": {
        "Objects": ["cat", {"label": "sofa", "details": ["red", "velvet"]}, {"name": 5}, 7, {"name": None},
                   {"object": "lamp", "description": "brass\nlamp"}],
        "summary": ["A cat.", "On a sofa."], "mood": "calm"}})
    r = parse_reply(text)
    assert [(o.name, o.detail) for o in r.semantics.objects] == [("cat", ""), ("sofa", "red, velvet"), ("5", "")]
    assert r.semantics.description == "A cat. On a sofa."
    assert any("ignored key(s): mood" in n for n in r.notes)
    assert any("dropped object 4 (type int)" in n for n in r.notes)
    # and a mapping name -> detail
    r = parse_reply('{"objects": {"tree": "tall oak", "sky": "blue"}, "description": 42}')
    assert [(o.name, o.detail) for o in r.semantics.objects] == [("tree", "tall oak"), ("sky", "blue")]
    assert r.semantics.description == "42"


def test_control_characters_and_whitespace_are_flattened():
    r = parse_reply('{"objects": [{"name": " red\\tcar ", "detail": "shiny\\n\\nwet"}], "description": "a\\u0000b  c"}')
    assert r.semantics.objects[0] == type(r.semantics.objects[0])("red car", "shiny wet")
    assert r.semantics.description == "a b c"


@pytest.mark.parametrize("text", ['{"foo": 1}', '{"objects": [], "description": ""}',
                                  '{"objects": [{"name": ""}], "description": null}'])
def test_nothing_usable_is_a_clear_error(text):
    with pytest.raises(ServiceError, match="neither objects nor a description"):
        parse_reply(text)


def test_repaired_semantics_pass_the_schema_and_the_text_coder():
    from sggic.semantics.schema import Semantics
    from sggic.semantics.textcoder import decode_semantics, encode_semantics

    r = parse_reply("```json\n" + json.dumps({"objects": [{"name": "x" * 3000, "detail": "y"}],
                                               "description": "z " * 500}) + "\n```")
    sem = r.semantics
    assert Semantics.from_json(sem.to_json()) == sem
    assert decode_semantics(encode_semantics(sem)) == sem
