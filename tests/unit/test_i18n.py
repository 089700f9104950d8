"""The message catalogs are whole and current, and the lookup takes the language explicitly.

Runs the README's own `pybabel extract` command (into a temporary .pot), so that a string added to the code without
updating the catalogs, or a README command that extracts something else, fails here.
"""

from __future__ import annotations

import ast
import gettext
import json
import re
import shlex
import string
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from rnnviz.assets import ASSETS, TITLES
from rnnviz.errors import ConfigError, InputError
from rnnviz.i18n import LOCALES, N_, tr

ROOT = Path(__file__).resolve().parents[2]
POT = LOCALES / "messages.pot"
PO = LOCALES / "zh" / "LC_MESSAGES" / "messages.po"
MO = LOCALES / "zh" / "LC_MESSAGES" / "messages.mo"


def readme_command(verb: str) -> list[str]:
    lines = [line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith(f"pybabel {verb} ")]
    assert len(lines) == 1, f"the README's development section gives one `pybabel {verb}` command"
    return shlex.split(lines[0])


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> dict:
    """The code's messages, extracted now with the README's command: {id: flags}."""
    args = readme_command("extract")
    out = tmp_path_factory.mktemp("pot") / "messages.pot"
    args[args.index("-o") + 1] = str(out)
    CommandLineInterface().run(args[:-1] + [str(ROOT)])
    with out.open("rb") as f:
        return {m.id: m.flags for m in read_po(f) if m.id}


@pytest.fixture(scope="module")
def catalog():
    with PO.open("rb") as f:
        return read_po(f)


def fields(text: str) -> list[str] | None:
    """The {named} placeholders of ``text``, sorted; None for text that is not a format string (LaTeX, used as is)."""
    try:
        return sorted(name for _, name, _, _ in string.Formatter().parse(text) if name is not None)
    except ValueError:
        return None


def test_the_extraction_finds_the_code_s_messages(extracted):
    assert len(extracted) > 400
    assert "Gradient flow" in extracted and "hidden state h_t" in extracted  # t() in app.py; N_ in rnnviz
    assert "The text has {n:,} characters; the limit is {limit:,}." in extracted  # an InputError's message id


def test_the_template_is_current(extracted):
    with POT.open("rb") as f:
        committed = {m.id for m in read_po(f) if m.id}
    assert committed == set(extracted), (
        "rnnviz/locales/messages.pot is stale: run the README's `pybabel extract`.\n"
        f"new: {sorted(set(extracted) - committed)[:10]}\ngone: {sorted(committed - set(extracted))[:10]}")


def test_every_message_has_a_chinese_translation(extracted, catalog):
    ids = {m.id for m in catalog if m.id}
    missing = sorted(set(extracted) - ids)
    assert not missing, f"not in the .po (run `pybabel update`): {missing[:10]}"
    stale = sorted(ids - set(extracted))
    assert not stale, f"in the .po but not in the code (run `pybabel update`): {stale[:10]}"
    empty = [m.id for m in catalog if m.id and not (m.string or "").strip()]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert not empty and not fuzzy, f"untranslated: {empty[:10]}; fuzzy: {fuzzy[:10]}"
    assert not catalog.fuzzy  # the header too


def test_placeholders_match(catalog):
    problems = [(m.id, m.string) for m in catalog if m.id and fields(m.id) != fields(m.string)]
    assert not problems, problems[:5]
    babel_checks = [(m.id, [str(e) for e in errors]) for m, errors in catalog.check() if errors]
    assert not babel_checks, babel_checks[:5]


def test_translations_are_chinese_where_the_source_has_words(catalog):
    """A translation that only repeats the English is not one (names and symbols may stay as they are)."""
    same = [m.id for m in catalog if m.id and m.string == m.id and re.search(r"[a-z]{3} [a-z]{3}", m.id)]
    assert not same, same[:10]


def test_the_compiled_catalog_is_current(catalog):
    with MO.open("rb") as f:
        compiled = {m.id: m.string for m in read_mo(f) if m.id}
    source = {m.id: m.string for m in catalog if m.id}
    assert compiled == source, "messages.mo is stale: run the README's `pybabel compile`"


def test_the_glossary_terms_are_used(catalog):
    """The course notes' terms, as GLOSSARY.md lists them, are the ones the catalog uses."""
    text = "\n".join(m.string for m in catalog if m.id)
    for term in ("循环神经网络", "隐藏状态（记忆体）h_t", "细胞态 c_t", "输入门 i_t", "遗忘门 f_t", "输出门 o_t",
                 "候选态", "重置门 r_t", "更新门 z_t", "时间步", "独热码", "嵌入", "梯度消失", "梯度爆炸",
                 "沿时间反向传播（BPTT）", "温度", "每字符比特"):
        assert term in text, term
        assert term.split(" ")[0] in (LOCALES / "GLOSSARY.md").read_text()


def test_lookup_takes_the_language_per_call():
    assert tr("zh", "Gradient flow") == "梯度流" and tr("en", "Gradient flow") == "Gradient flow"
    assert tr("fr", "Gradient flow") == "Gradient flow"  # an unknown language reads the source text
    zh = tr("zh", "The sequence has {n:,} characters; only the first {limit:,} are used.", n=2500, limit=2000)
    assert "2,500" in zh and "2,000" in zh and "序列" in zh
    assert tr("zh", "task {task}", task=N_("recall")) == "任务 回忆"  # a marked value is translated too
    assert tr("zh", "task {task}", task="recall") == "任务 recall"  # an unmarked one is filled in as it is


def test_no_process_wide_translation_is_installed():
    assert not hasattr(__builtins__ if isinstance(__builtins__, dict) else vars(__builtins__), "_")
    for path in [ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "rnnviz").rglob("*.py")]:
        source = path.read_text()
        assert ".install(" not in source and "gettext.gettext" not in source, path


def test_errors_carry_a_message_id_that_pages_translate():
    err = InputError("The text has {n:,} characters; the limit is {limit:,}.", n=12345, limit=100)
    assert str(err) == "The text has 12,345 characters; the limit is 100."
    assert err.text("zh") == "文本有 12,345 个字符；上限是 100。"
    wrapped = ConfigError("The model card's vocabulary is invalid: {reason}", reason=err)
    assert "文本有 12,345 个字符" in wrapped.text("zh") and "The text has" in str(wrapped)
    named = ConfigError("The {name} must be a whole number from {lo:,} to {hi:,}.", name=N_("lag"), lo=1, hi=500)
    assert named.text("zh").startswith("间隔") and str(named).startswith("The lag must")


def test_every_user_error_is_raised_with_a_message_id():
    """No f-string messages in rnnviz's user errors: Babel cannot extract them, so they would stay English."""
    names = {"RnnvizError", "InputError", "ConfigError", "CheckpointError"}
    found = []
    for path in (ROOT / "rnnviz").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in names and node.args \
                    and isinstance(node.args[0], ast.JoinedStr):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not found, found


def test_every_bundled_title_is_in_the_catalog():
    titles = {json.loads(p.read_text()).get("title") for p in ASSETS.glob("*.json")} - {None}
    assert titles <= set(TITLES), titles - set(TITLES)


def test_gettext_reads_the_committed_catalog():
    t = gettext.translation("messages", LOCALES, languages=["zh"])
    assert t.gettext("Home") == "首页"
