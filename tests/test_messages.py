"""The message catalog: every key the code asks for exists, every template formats, every
language translates every message with the same placeholders, and no member-facing sentence is
written in the code outside the catalog."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog

from bot import i18n
from bot.messages import PLURAL_SUFFIX, TEXT, say, say_plural

ROOT = Path(__file__).resolve().parent.parent
#: ``say("some.key"`` with a literal key (computed keys such as f-strings are not seen).
SAY_CALL = re.compile(r"""\bsay(?:_plural)?\(\s*["']([a-z0-9_.-]+)["']""")


def _used_keys() -> dict[str, list[str]]:
    """Every literal ``say()`` key in bot/ and cogs/, with where it is used."""
    used: dict[str, list[str]] = {}
    for folder in ("bot", "cogs"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            for match in SAY_CALL.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                used.setdefault(match[1], []).append(f"{path.relative_to(ROOT)}:{line}")
    return used


class _Dummy:
    """A placeholder value that takes any format spec (``{n:,}``, ``{s:.0f}``, plain)."""

    def __format__(self, spec: str) -> str:
        try:
            return format(1234, spec)
        except ValueError:
            return format("x", spec)


def _fields(template: str) -> set[str]:
    names = set()
    for _, field, _, _ in string.Formatter().parse(template):
        if field is not None:
            # ``{a.b}`` / ``{a[0]}`` would need a real object: the catalog uses plain names.
            assert re.fullmatch(r"[a-z_][a-z0-9_]*", field), f"placeholder {{{field}}}"
            names.add(field)
    return names


def test_the_scan_finds_the_calls() -> None:
    used = _used_keys()
    # A few keys known to be asked for by the cogs: the regex sees real calls.
    assert {"jobs.none", "quota.me.title", "settings.gallery.off"} <= set(used)


def test_every_key_used_in_code_exists() -> None:
    missing = {key: where for key, where in _used_keys().items() if key not in TEXT}
    assert not missing, f"say() keys missing from bot/messages.py: {missing}"


def test_a_misspelled_key_fails_loudly() -> None:
    with pytest.raises(KeyError):
        say("quota.me.titel")


@pytest.mark.parametrize("key", sorted(TEXT))
def test_every_template_formats_with_its_placeholders(key: str) -> None:
    template = TEXT[key]
    params = {name: _Dummy() for name in _fields(template)}
    assert say(key, **params).strip(), key


# -- every language ----------------------------------------------------------------------------

TRANSLATIONS = [language for language in i18n.LANGUAGES if language != i18n.SOURCE]


def _messages(catalog: Catalog) -> dict[str, list[str]]:
    """key -> its forms (one, or the plural forms), for the member-facing messages."""
    out: dict[str, list[str]] = {}
    for message in catalog:
        if not message.id or message.context:
            continue
        if isinstance(message.id, tuple | list):
            out[str(message.id[0])] = [str(f) for f in message.string]
        else:
            out[str(message.id)] = [str(message.string)]
    return out


def _spec_fields(template: str) -> set[tuple[str, str]]:
    """The placeholders of ``template`` with their format specs (``{n:,}`` != ``{n}``)."""
    return {
        (field, spec or "")
        for _, field, spec, _ in string.Formatter().parse(template)
        if field is not None
    }


def translation_problems(source: Catalog, translation: Catalog) -> list[str]:
    """What a translation lacks or gets wrong against the source catalog."""
    problems = []
    theirs = _messages(translation)
    for key, forms in _messages(source).items():
        got = theirs.get(key)
        entry = translation.get((key, key + PLURAL_SUFFIX)) or translation.get(key)
        if not got or not all(f.strip() for f in got) or (entry is not None and entry.fuzzy):
            problems.append(f"{key}: not translated")
            continue
        want = set().union(*(_spec_fields(f) for f in forms))
        for form in got:
            if _spec_fields(form) - want or (len(got) == 1 and _spec_fields(form) != want):
                problems.append(
                    f"{key}: placeholders {sorted(_spec_fields(form))} != {sorted(want)}"
                )
    problems += [
        f"{key}: not in the source catalog" for key in set(theirs) - set(_messages(source))
    ]
    return problems


@pytest.mark.parametrize("language", TRANSLATIONS)
def test_every_message_is_translated_with_the_same_placeholders(language: str) -> None:
    problems = translation_problems(i18n.catalog(i18n.SOURCE), i18n.catalog(language))
    assert not problems, "\n".join(problems)


def test_the_translation_check_sees_a_missing_message_and_a_changed_placeholder() -> None:
    source = Catalog(locale="en")
    source.add("a.one", "Hello {name}")
    source.add("a.two", "Bye {name}")
    source.add("a.three", "{n:,} credits")
    translation = Catalog(locale="zh_CN")
    translation.add("a.one", "你好 {nom}")
    translation.add("a.three", "{n} 额度")
    translation.add("a.stale", "旧的")
    assert sorted(translation_problems(source, translation)) == [
        "a.one: placeholders [('nom', '')] != [('name', '')]",
        "a.stale: not in the source catalog",
        "a.three: placeholders [('n', '')] != [('n', ',')]",
        "a.two: not translated",
    ]


def test_plural_forms_follow_each_language() -> None:
    with i18n.speaking("en-US"):
        assert say_plural("quota.credits", 1, n=1) == "1 credit"
        assert say_plural("quota.credits", 1200, n=1200) == "1,200 credits"
    with i18n.speaking("zh-CN"):
        assert i18n.catalog("zh-CN").num_plurals == 1
        assert say_plural("quota.credits", 1, n=1) == "1 额度"
        assert say_plural("quota.credits", 1200, n=1200) == "1,200 额度"


def test_the_language_falls_back_to_english_and_numbers_follow_the_locale() -> None:
    assert i18n.language_for("zh-CN") == "zh-CN"
    assert i18n.language_for("en-GB") == i18n.language_for("fr") == i18n.language_for(None) == "en"
    with i18n.speaking("fr"):
        assert say("jobs.none") == "You have no unfinished jobs."
    with i18n.speaking("zh-CN"):
        assert say("jobs.none") == "你没有未完成的任务。"
        with i18n.speaking("en-US"):
            assert say("jobs.none") == "You have no unfinished jobs."
        assert say("jobs.none") == "你没有未完成的任务。"
    assert say("jobs.none") == "You have no unfinished jobs."  # the default outside any block
    assert i18n.format_number(1234567, "en") == "1,234,567"
    assert i18n.format_number(1234567, "zh-CN") == "1,234,567"


@pytest.mark.parametrize("language", TRANSLATIONS)
@pytest.mark.parametrize("key", sorted(TEXT))
def test_every_translation_formats_with_its_placeholders(language: str, key: str) -> None:
    params = {name: _Dummy() for name in _fields(TEXT[key])}
    with i18n.speaking(language):
        assert say(key, **params).strip(), key


# -- no member-facing sentence outside the catalog --------------------------------------------

#: Calls whose text a member reads; their literal strings must come from ``say()``.
READ_BY_MEMBERS = {
    "send_message", "send", "reply", "edit_message", "edit_original_response",
    "Refusal", "SettingsError", "QuotaError", "BlocklistError",
    "Embed", "add_field", "set_footer", "set_author", "Button",
}  # fmt: skip
#: Of those, the calls whose positional arguments are the sentence.
SENTENCE_FIRST = {"send_message", "send", "reply", "Refusal", "SettingsError", "QuotaError"}
#: Keywords of any call that carry member-facing text (and name/value of the calls above).
TEXT_KEYWORDS = {"content", "title", "description", "label", "placeholder"}
#: Not member-facing sentences: slash command metadata goes through the Translator (its own
#: test checks every string is localized); the CLI speaks to operators; model brand names.
NOT_SCANNED = {"command", "Group", "Choice", "ArgumentParser", "add_parser", "ModelCapabilities"}
#: Discord markup: mentions and timestamps are not words.
MARKUP = re.compile(r"<(@[!&]?|#|t:)[^>]*>")


def _words(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = node.value
    elif isinstance(node, ast.JoinedStr):
        text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
    else:
        return None
    text = MARKUP.sub("", str(text))
    return text if re.search(r"[^\W\d_]", text) else None


def bypasses(source: str, where: str) -> list[str]:
    """Literal member-facing text in ``source`` that does not come from the catalog."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name in NOT_SCANNED:
            continue
        keywords = TEXT_KEYWORDS | ({"name", "value", "text"} if name in READ_BY_MEMBERS else set())
        candidates = [k.value for k in node.keywords if k.arg in keywords]
        if name in SENTENCE_FIRST:
            candidates += node.args
        for value in candidates:
            words = _words(value)
            if words:
                found.append(f"{where}:{node.lineno} {name}(): {words!r}")
    return found


def test_no_member_facing_text_bypasses_the_catalog() -> None:
    found = []
    for folder in ("bot", "cogs"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            found += bypasses(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert not found, "write these through bot.messages.say():\n" + "\n".join(found)


def test_the_bypass_scan_sees_literal_text() -> None:
    source = (
        "raise Refusal('Nope, not today')\n"
        "await i.response.send_message(f'Done, {n} left', ephemeral=True)\n"
        "embed.add_field(name='Model', value=model)\n"
        "transport.post(1, content='<@1> your image is ready')\n"
        "ok = say('jobs.none'); i.response.send_message(say('x'), content=f'<@{m}>')\n"
    )
    assert sorted(line.split(" ", 1)[0] for line in bypasses(source, "x.py")) == [
        "x.py:1",
        "x.py:2",
        "x.py:3",
        "x.py:4",
    ]
