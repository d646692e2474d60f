"""``cuas web user …`` (accounts and their audit lines) and ``cuas demo`` starting the console."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from cuas.cli.main import main
from cuas.web import audit
from cuas.web.accounts import Accounts
from tests.web.helpers import site_config


def test_user_commands_manage_the_accounts_file_and_audit_each_change(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    config = site_config(tmp_path, users=False)
    assert config.path is not None
    cfg = ["web", "--config", config.path, "user"]
    monkeypatch.setattr("sys.stdin", io.StringIO("a long password\n"))
    assert main([*cfg, "add", "zed", "--role", "viewer", "--password-stdin"]) == 0
    assert "zed is a viewer" in capsys.readouterr().out
    assert Accounts(tmp_path / "users.json").verify("zed", "a long password") is not None
    assert main([*cfg, "role", "zed", "operator"]) == 0
    assert main([*cfg, "list"]) == 0
    assert capsys.readouterr().out == "zed\toperator\n"
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main([*cfg, "add", "amy", "--role", "admin", "--password-stdin"]) == 1
    assert "8 to 1024 characters" in capsys.readouterr().err
    assert main([*cfg, "remove", "zed"]) == 0
    assert main([*cfg, "remove", "zed"]) == 1
    records = audit.read(tmp_path / "audit.jsonl")
    assert [(r["action"], r["note"]) for r in records] == [
        ("user_added", "zed as viewer"), ("role_changed", "zed to operator"),
        ("user_removed", "zed")]
    assert all(r["user"].startswith("cli:") for r in records)
    assert main(["web", "--config", config.path, "audit"]) == 0
    assert "3 records, the hash chain holds" in capsys.readouterr().out
    log = tmp_path / "audit.jsonl"
    log.write_bytes(log.read_bytes().replace(b"to operator", b"to admin"))
    assert main(["web", "--config", config.path, "audit"]) == 1
    assert "audit.jsonl:3: the hash chain is broken" in capsys.readouterr().err


def test_the_demo_starts_the_console_and_prints_its_url(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rec, truth = tmp_path / "small.mcap", tmp_path / "small.truth.jsonl"
    assert main(["sim", "random", "--seed", "8", "--targets", "2", "--duration", "10",
                 "--out", str(rec), "--truth", str(truth)]) == 0
    capsys.readouterr()
    assert main(["demo", "--recording", str(rec), "--speed", "0", "--no-view"]) == 0
    err = capsys.readouterr().err
    assert "cuas demo: console at http://127.0.0.1:" in err
    assert "(user demo, password " in err
    audit_log = Path(err.split("audit log ", 1)[1].split(")", 1)[0])
    assert audit_log.parent.name.startswith("cuas-demo-web-")
    assert [r["action"] for r in audit.read(audit_log)] == []  # nobody logged in
    shutil.rmtree(audit_log.parent)
