import json
import os
import stat

import pytest

from liegnn._atomic import atomic_path, atomic_write_json


def test_written_file_has_the_mode_of_a_plain_open(tmp_path):
    plain = tmp_path / "plain.json"
    plain.write_text("{}")
    atomic_write_json({"a": 1}, tmp_path / "sub" / "atomic.json")
    mode = lambda p: stat.S_IMODE(os.stat(p).st_mode)
    assert mode(tmp_path / "sub" / "atomic.json") == mode(plain)  # not mkstemp's private 0600
    assert json.loads((tmp_path / "sub" / "atomic.json").read_text()) == {"a": 1}


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "results.json"
    atomic_write_json({"old": True}, target)
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text('{"new": tr')
        raise RuntimeError("interrupted")
    assert json.loads(target.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]
