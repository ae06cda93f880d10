"""Settings: defaults, errors naming the setting, and the sample/docs listing every setting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.errors import ConfigurationError
from shared.settings import Settings, setting_names

ROOT = Path(__file__).resolve().parents[2]


def test_defaults() -> None:
    s = Settings.from_env({})
    assert (s.sync_queue, s.schedule, s.log_retention_days, s.rotation_enabled) == (
        "exsync-sync", "0 */5 * * * *", 30, False)


def test_values_are_parsed() -> None:
    s = Settings.from_env({"EXSYNC_ALERT_EMAILS": "a@x.com; b@x.com", "EXSYNC_ROTATION_ENABLED": "TRUE",
                           "EXSYNC_LOG_RETENTION_DAYS": "90", "EXSYNC_ERP_PASSWORD": "pw",
                           "EXSYNC_LOG_RETENTION_DAYs": "ignored"})
    assert s.alert_emails == ("a@x.com", "b@x.com") and s.rotation_enabled and s.log_retention_days == 90
    assert "pw" not in repr(s)  # secrets never print


@pytest.mark.parametrize(("name", "value"), [
    ("EXSYNC_SCHEDULE", "every 5 minutes"), ("EXSYNC_LOG_RETENTION_DAYS", "7"),
    ("EXSYNC_ROTATION_ENABLED", "perhaps"), ("EXSYNC_SYNC_QUEUE", "Bad_Queue"),
    ("EXSYNC_ERP_URL", "erp.contoso.com"), ("EXSYNC_KEY_VAULT_URL", "http://kv"),
])
def test_bad_values_name_the_setting(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as err:
        Settings.from_env({name: value})
    assert name in str(err.value)


def test_require_names_missing_settings() -> None:
    with pytest.raises(ConfigurationError, match=r"EXSYNC_ERP_URL.*EXSYNC_ERP_PASSWORD"):
        Settings.from_env({}).require("erp_url", "erp_password")


def test_sample_and_docs_list_every_setting() -> None:
    sample = json.loads((ROOT / "local.settings.sample.json").read_text())["Values"]
    docs = (ROOT / "docs" / "configuration.md").read_text()
    for name in setting_names():
        assert name in sample, name
        assert f"| `{name}` |" in docs, name


async def test_misconfigured_app_answers_500_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    import azure.functions as func

    from functions._runtime import use_runtime
    from tests.functions.conftest import user_function

    use_runtime(None)
    monkeypatch.setenv("EXSYNC_SCHEDULE", "hourly")
    req = func.HttpRequest("GET", "http://localhost/api/policies", body=b"")
    resp = await user_function("admin_policies")(req)
    assert resp.status_code == 500 and b"EXSYNC_SCHEDULE" in resp.get_body()
