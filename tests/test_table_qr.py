"""Table tokens and the printable QR sheet."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from pydantic import SecretStr

from orchestrator.cli import main
from orchestrator.settings import Settings
from table_qr.tokens import TokenError, sign, table_url, verify

KEYS = {'k2': SecretStr('new-secret'), 'k1': SecretStr('old-secret')}


def test_sign_and_verify_with_rotation() -> None:
    token = sign(KEYS, 'demo', 't07')
    assert token.startswith('k2.demo.t07.') and len(token.split('.')[3]) == 22
    assert verify(token, KEYS, 'demo').table_id == 't07'
    old = sign({'k1': KEYS['k1']}, 'demo', 't07')
    assert verify(old, KEYS, 'demo').key_id == 'k1'
    # Dropping a key retires every code printed under it.
    with pytest.raises(TokenError, match='unknown signing key') as e:
        verify(old, {'k2': KEYS['k2']}, 'demo')
    assert e.value.status == 401
    assert table_url('https://dine.example/', token) == f'https://dine.example/t/{token}'


@pytest.mark.parametrize(
    ('mangle', 'status', 'words'),
    [
        (lambda t: t[:-1] + ('A' if t[-1] != 'A' else 'B'), 401, 'bad signature'),
        (lambda t: t.replace('.t07.', '.t08.'), 401, 'bad signature'),
        (lambda t: t.replace('.demo.', '.other.'), 401, 'bad signature'),
        (lambda t: t + '.x', 401, 'malformed'),
        (lambda t: t.replace('k2.', '.', 1), 401, 'malformed'),
        (lambda t: '', 401, 'malformed'),
        (lambda t: t[:-1] + 'é', 401, 'bad signature'),
        (lambda t: t.replace('.t07.', '.t０7.'), 401, 'bad signature'),
    ],
)
def test_tampered_tokens_are_refused(mangle, status: int, words: str) -> None:
    with pytest.raises(TokenError, match=words) as e:
        verify(mangle(sign(KEYS, 'demo', 't07')), KEYS, 'demo')
    assert e.value.status == status


def test_wrong_restaurant_and_revoked() -> None:
    other = sign(KEYS, 'elsewhere', 't07')
    with pytest.raises(TokenError, match='another restaurant'):
        verify(other, KEYS, 'demo')
    token = sign(KEYS, 'demo', 't07')
    with pytest.raises(TokenError, match='revoked') as e:
        verify(token, KEYS, 'demo', revoked={token})
    assert e.value.status == 403


def test_qr_command_writes_codes_sheet_and_csv(tmp_path: Path) -> None:
    out = tmp_path / 'codes'
    assert main(['qr', '--base-url', 'https://dine.example', '--out', str(out)]) == 0
    with (out / 'tables.csv').open(encoding='utf-8') as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 16 and rows[0]['table_id'] == 't01'
    assert rows[0]['name'] == '1번 테이블 · Table 1 · 1号桌'  # each language's name once
    keys = Settings().table_keys
    for row in rows:
        token = row['url'].removeprefix('https://dine.example/t/')
        assert verify(token, keys, 'demo').table_id == row['table_id']
        svg = (out / f'{row["table_id"]}.svg').read_text()
        assert svg.startswith('<?xml') and '<path' in svg
        assert (out / f'{row["table_id"]}.png').read_bytes().startswith(b'\x89PNG')
    sheet = (out / 'sheet.html').read_text(encoding='utf-8')
    assert sheet.count('<figure>') == 16 and 'Table 16' in sheet and rows[5]['url'] in sheet
    assert 'src="t16.svg"' in sheet

    zxingcpp = pytest.importorskip('zxingcpp')
    image = pytest.importorskip('PIL.Image')
    for row in rows[:3]:
        decoded = zxingcpp.read_barcodes(image.open(out / f'{row["table_id"]}.png'))
        assert [d.text for d in decoded] == [row['url']]


def test_qr_command_reports_a_bad_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / 'bad.yaml'
    bad.write_text('restaurant: [\n')
    assert (
        main(['qr', '--config', str(bad), '--base-url', 'http://x', '--out', str(tmp_path / 'o')])
        == 1
    )
    assert str(bad) in capsys.readouterr().out
