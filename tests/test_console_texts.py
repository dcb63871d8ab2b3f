"""The console's texts (`web/console_i18n.json`): every key its page and scripts name, and every
text the server says to it, exists in Korean, English and Chinese, so a missing translation
fails here rather than showing a key (or English) to a kitchen in Seoul or Shanghai."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from orchestrator.console.operator_actions import UNAVAILABLE
from orchestrator.dispatch.ros_bridge import MODES
from orchestrator.settings import REPO_ROOT
from orchestrator.store import jobs, orders
from orchestrator.texts import Refused, Said, english, texts

WEB = REPO_ROOT / 'orchestrator' / 'web'
LANGS = ('ko', 'en', 'zh')
# Values a translation names that its English text leaves out: the English is the server's
# own detail, which names them already.
MORE_THAN_ENGLISH = {
    'refusals.invalid': {'field'},
    'refusals.bad_amount': {'value', 'unit'},
}


def leaves(table: dict[str, Any], prefix: str = '') -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out |= leaves(value, f'{prefix}{key}.')
        else:
            out[f'{prefix}{key}'] = value
    return out


def find(table: dict[str, Any], key: str) -> Any:
    node: Any = table
    for part in key.split('.'):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def lookup(lang: str, key: str) -> Any:
    """As the console looks a key up (console.js `text`): its own table, then the diner's."""
    table = texts(lang)
    found = find(table['console'], key)
    return found if found is not None else find(table, key)


def placeholders(text: str) -> set[str]:
    return set(re.findall(r'\{(\w+)\}', text))


def test_every_language_has_every_text_with_the_same_values() -> None:
    tables = json.loads((WEB / 'console_i18n.json').read_text(encoding='utf-8'))
    assert set(tables) == set(LANGS)
    english_texts = leaves(tables['en'])
    for lang in ('ko', 'zh'):
        these = leaves(tables[lang])
        assert set(these) == set(english_texts), (
            lang,
            sorted(set(english_texts) ^ set(these)),
        )
        for key, value in these.items():
            extra = placeholders(value) - placeholders(english_texts[key])
            assert extra <= MORE_THAN_ENGLISH.get(key, set()), (lang, key, extra)
            assert value.strip(), (lang, key)


def keys_in_scripts() -> tuple[set[str], set[str]]:
    """The keys the console's page and scripts name: whole ones, and the fixed starts of those
    made at run time (`lost.${choice}.label` -> `lost.`)."""
    whole, starts = set(), set()
    calls = re.compile(r"""\b(?:t|code|plural|said|text)\(\s*(['`])([^'`]+)\1""")
    for name in ('console.js', 'console_kitchen.js'):
        for _, key in calls.findall((WEB / name).read_text(encoding='utf-8')):
            if '${' in key:
                starts.add(key.split('${')[0])
            else:
                whole.add(key)
    html = (WEB / 'console.html').read_text(encoding='utf-8')
    whole |= set(re.findall(r'data-i18n(?:-label|-title)?="([^"]+)"', html))
    # Tables console.js names by a value's name (CODES) and charts.js's words.
    script = (WEB / 'console.js').read_text(encoding='utf-8')
    codes = re.search(r'const CODES = \{(.*?)\};', script, re.S)
    assert codes is not None
    whole |= set(re.findall(r":\s*'([a-z_.]+)'", codes.group(1)))
    whole |= {f'reports.{w}' for w in ('csv', 'nothing', 'demo', 'right_axis')}
    return whole, starts


def test_every_key_the_console_names_is_in_every_language() -> None:
    whole, starts = keys_in_scripts()
    assert len(whole) > 150 and 'tabs.tickets' in whole and 'confirm.pause' in whole
    for lang in LANGS:
        missing = sorted(k for k in whole if lookup(lang, k) is None)
        assert not missing, (lang, missing)
        for start in starts:
            table = lookup(lang, start.rstrip('.')) if start.endswith('.') else None
            # `share_${kind}`: the diner's flat keys (share_whole, ...).
            found = table or [k for k in texts(lang) if k.startswith(start)]
            assert found, (lang, start)


def keys_the_server_says() -> tuple[set[str], set[str]]:
    """The keys of the texts the server says to the console where it names them (Said,
    Refused, StockRefused), and the fixed starts of those it makes (`f'close_{e.reason}'`)."""
    said = re.compile(r"""\bSaid\(\s*(f?)'([^']+)'""")
    refused = re.compile(r"""\b(?:Refused\(\s*\d+,|StockRefused\()\s*(f?)'([^']+)'""")
    whole, starts = set(), set()
    for path in (REPO_ROOT / 'orchestrator').rglob('*.py'):
        source = path.read_text(encoding='utf-8')
        found = said.findall(source) + [(f, f'refusals.{k}') for f, k in refused.findall(source)]
        for f, key in found:
            if f:
                starts.add(key.split('{')[0])
            else:
                whole.add(key)
    return whole, starts


def test_every_text_the_server_says_is_in_every_language() -> None:
    whole, starts = keys_the_server_says()
    assert {'done.pause_sent', 'refusals.already_paused', 'alert.texts.job_dead'} <= whole
    assert 'alert.texts.staff_call.' in starts
    for lang in LANGS:
        assert not sorted(k for k in whole if not isinstance(lookup(lang, k), str)), lang
        console = leaves(texts(lang)['console'])
        for start in starts:
            assert any(k.startswith(start) for k in console), (lang, start)


def test_every_code_the_console_shows_has_a_name() -> None:
    """Robot modes, dish and order states: a code without a name would show as the code."""
    modes = {*MODES.values(), *UNAVAILABLE, 'unknown'}
    j, o = jobs, orders
    states = {j.QUEUED, j.DISPATCHED, j.COOKING, j.COOKED, j.DEAD, j.WITHDRAWN, j.WASTED}
    states |= {
        o.RECEIVED,
        o.COOKING,
        o.READY,
        o.DELIVERING,
        o.ARRIVED,
        o.LOST_IN_TRANSIT,
        *o.FINAL,
    }
    for lang in LANGS:
        console = texts(lang)['console']
        assert modes <= set(console['modes']), (lang, modes - set(console['modes']))
        assert states <= set(console['states']), (lang, states - set(console['states']))


def test_a_said_text_is_english_with_its_values_and_travels_by_key() -> None:
    said = Said('refusals.cannot_pause', {'robot': 'serve1', 'mode': 'estopped'})
    assert str(said) == 'serve1 is estopped; it cannot be paused'
    assert said.view() == {
        'said': 'refusals.cannot_pause',
        'args': {'robot': 'serve1', 'mode': 'estopped'},
    }
    refused = Refused(409, 'already_paused', robot='serve2')
    assert (refused.status, refused.reason, refused.message) == (
        409,
        'already_paused',
        'serve2 is already paused',
    )
    with pytest.raises(KeyError):
        english('refusals.already_paused', {})  # a value it names is missing
