"""``cuas check`` on ``[web]``: real certificates and keys made by openssl, real accounts files,
a real audit log; each fault is one line naming the key at fault."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from cuas.cli.main import main
from cuas.web.accounts import Accounts
from cuas.web.audit import AuditLog
from tests.web.helpers import site_config


def _openssl_pair(directory: Path, name: str) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", f"/CN={name}",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    key.chmod(0o600)
    return cert, key


def _check(capsys: pytest.CaptureFixture[str], config: Path) -> tuple[int, str, str]:
    code = main(["check", "--config", str(config)])
    out = capsys.readouterr()
    return code, out.out, out.err


def _failure(capsys: pytest.CaptureFixture[str], config: Path, key: str) -> str:
    code, _, err = _check(capsys, config)
    assert code != 0 and key in err, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_check_opens_the_consoles_tls_pair_accounts_audit_log_and_basemap(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cert, key = _openssl_pair(tmp_path, "console")
    other_cert, other_key = _openssl_pair(tmp_path, "other")
    config = site_config(tmp_path, extra_web=f'tls_cert = "{cert.name}"\n'
                                             f'tls_key = "{key.name}"')
    assert config.path is not None
    path = Path(config.path)
    good = path.read_text()
    AuditLog(tmp_path / "audit.jsonl").append("olivia", "operator", "login")

    code, out, err = _check(capsys, path)
    assert (code, err) == (0, "")
    assert "console TLS certificate and key ok" in out and "3 console accounts" in out
    assert "console audit log: 1 records, chain intact" in out

    # The key of another certificate.
    path.write_text(good.replace(f'tls_key = "{key.name}"', f'tls_key = "{other_key.name}"'))
    assert "is not the key of the certificate" in _failure(capsys, path, "web.tls_key")
    # A key others can read.
    key.chmod(0o644)
    path.write_text(good)
    assert "group or others (mode 0644)" in _failure(capsys, path, "web.tls_key")
    key.chmod(0o600)
    # A key where the certificate should be, a certificate where the key should be, a file
    # that is not there, a directory.
    path.write_text(good.replace(f'tls_cert = "{cert.name}"', f'tls_cert = "{key.name}"'))
    assert "no PEM certificate" in _failure(capsys, path, "web.tls_cert")
    path.write_text(good.replace(f'tls_key = "{key.name}"', f'tls_key = "{other_cert.name}"'))
    assert "no PEM private key" in _failure(capsys, path, "web.tls_key")
    path.write_text(good.replace(f'tls_cert = "{cert.name}"', 'tls_cert = "gone.crt"'))
    assert "cannot read" in _failure(capsys, path, "web.tls_cert")
    (tmp_path / "adir").mkdir()
    path.write_text(good.replace(f'tls_key = "{key.name}"', 'tls_key = "adir"'))
    assert "is not a file" in _failure(capsys, path, "web.tls_key")
    # A certificate file whose PEM body is damaged.
    broken = tmp_path / "broken.crt"
    text = cert.read_text()
    lines = text.splitlines()
    lines[2] = "!" * len(lines[2])
    broken.write_text("\n".join(lines) + "\n")
    path.write_text(good.replace(f'tls_cert = "{cert.name}"', 'tls_cert = "broken.crt"'))
    assert "cannot load the certificate and key" in _failure(capsys, path, "web.tls_cert")

    # The accounts: readable by others, then not JSON, then a user without a hash.
    path.write_text(good)
    users = tmp_path / "users.json"
    saved = users.read_text()
    users.chmod(0o640)
    assert "password hashes" in _failure(capsys, path, "web.users_file")
    users.chmod(0o600)
    users.write_text("{not json")
    assert "cannot read the accounts" in _failure(capsys, path, "web.users_file")
    users.write_text(json.dumps({"users": {"mallory": {"role": "admin"}}}))
    assert "has no hash" in _failure(capsys, path, "web.users_file")
    users.write_text(saved)

    # The audit log with a line edited.
    log = tmp_path / "audit.jsonl"
    AuditLog(log).append("olivia", "operator", "logout")
    log.write_text(log.read_text().replace('"login"', '"logout"', 1))
    assert "hash chain is broken" in _failure(capsys, path, "web.audit_log")
    log.unlink()

    # A basemap named but absent.
    path.write_text(good + 'basemap = "site.pmtiles"\n')
    assert "is not a file" in _failure(capsys, path, "web.basemap")


def test_check_applies_the_bind_rule(tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Beyond loopback the console needs TLS and an account: `cuas check` says so first."""
    config = site_config(tmp_path, users=False)
    assert config.path is not None
    path = Path(config.path)
    path.write_text(re.sub(r'listen = "127\.0\.0\.1:(\d+)"', r'listen = "0.0.0.0:\1"',
                           path.read_text()))
    assert "only with TLS" in _failure(capsys, path, "web.listen")
    cert, key = _openssl_pair(tmp_path, "console")
    path.write_text(path.read_text() + f'tls_cert = "{cert}"\ntls_key = "{key}"\n')
    assert "at least one account" in _failure(capsys, path, "web.listen")  # still no account
    Accounts(tmp_path / "users.json").add("ada", "admin", "admin-pass12")
    code, out, err = _check(capsys, path)
    assert (code, err) == (0, "") and out.rstrip().endswith("; 1 console account")
