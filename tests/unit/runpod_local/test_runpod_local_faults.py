"""Fault rules of the local RunPod endpoint and the settings that carry them."""

import msgspec
import pytest

from codex_platform.settings import SettingsError
from codex_runpod_local.faults import NO_FAULTS, FaultBook, FaultRuleSpec, Faults
from codex_runpod_local.settings import Settings


def spec(**fields: object) -> FaultRuleSpec:
    return msgspec.convert(fields, FaultRuleSpec)


def test_a_counted_rule_hits_the_next_jobs_then_disappears() -> None:
    faults = FaultBook()
    rule = faults.add(spec(dropWebhook=True, times=2))
    assert rule.remaining == 2
    assert faults.bind_new_job("ep").drop_webhook
    assert faults.bind_new_job("ep").drop_webhook
    assert faults.bind_new_job("ep") == NO_FAULTS
    assert faults.rules == {}


def test_an_uncounted_rule_hits_every_job_of_its_endpoint_only() -> None:
    faults = FaultBook()
    faults.add(spec(endpointId="a", duplicateWebhook=True))
    for _ in range(3):
        assert faults.bind_new_job("a").duplicate_webhook
    assert faults.bind_new_job("b") == NO_FAULTS


def test_a_job_rule_applies_to_that_job_whenever_it_is_set() -> None:
    faults = FaultBook()
    bound = faults.bind_new_job("ep")
    faults.add(spec(jobId="job-1", completeWithoutOutput=True, forgetJob=True, forgetAfterSeconds=2))
    assert faults.bind_new_job("ep") == NO_FAULTS
    now = faults.for_job("job-1", bound)
    assert now.complete_without_output and now.forget_after_s == 2
    assert faults.for_job("job-2", bound) == NO_FAULTS


def test_rules_merge() -> None:
    merged = Faults(delay_webhook_s=1, forget_after_s=5).merge(
        Faults(drop_webhook=True, delay_webhook_s=3, forget_after_s=1)
    )
    assert merged == Faults(drop_webhook=True, delay_webhook_s=3, forget_after_s=1)
    assert merged.any and not NO_FAULTS.any


def test_forget_without_delay_forgets_at_once() -> None:
    assert Faults.of(spec(forgetJob=True)).forget_after_s == 0
    assert Faults.of(spec(forgetAfterSeconds=3)).forget_after_s is None


def test_rules_are_removed_by_id_or_all_at_once() -> None:
    faults = FaultBook()
    first, second = faults.add(spec(dropWebhook=True)), faults.add(spec(dropWebhook=True))
    assert first.id != second.id
    assert faults.remove(first.id) and not faults.remove(first.id)
    faults.clear()
    assert faults.rules == {}


@pytest.mark.parametrize("bad", [{"times": 0}, {"delayWebhookSeconds": -1}, {"dropWebhooks": True}])
def test_bad_rules_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(msgspec.ValidationError):
        spec(**bad)


def test_settings_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "CODEX_RUNPOD_LOCAL_ENDPOINTS": "a, b",
            "CODEX_RUNPOD_LOCAL_PORT": "9999",
            "CODEX_RUNPOD_LOCAL_RETENTION_S": "2.5",
            "CODEX_RUNPOD_LOCAL_WORKER_COMMAND": "python -m my_worker --flag",
            "CODEX_RUNPOD_LOCAL_FAULTS": '[{"dropWebhook": true}]',
            "CODEX_RUNPOD_LOCAL_WORKER_ENV_JSON": '{"X": "1"}',
            "RUNPOD_API_KEY": "from-runpod-key",
        }
    )
    assert settings.endpoints == ("a", "b") and settings.served_endpoint == "a"
    assert settings.port == 9999 and settings.retention_s == 2.5
    assert settings.worker_argv == ["python", "-m", "my_worker", "--flag"]
    assert settings.faults == [{"dropWebhook": True}]
    assert settings.worker_env == {"X": "1"}
    assert settings.api_key == "from-runpod-key"
    assert settings.base_url == "http://127.0.0.1:9999"


def test_settings_defaults_match_the_cloud() -> None:
    settings = Settings.from_env({})
    assert settings.port == 8010 and settings.api_key == "local-dev-key"
    assert settings.retention_s == 1800 and settings.sync_retention_s == 60
    assert (settings.webhook_attempts, settings.webhook_interval_s) == (3, 10)
    assert settings.webhook_timeout_s == 2  # the cloud gives up on a slow receiver long before 10 s
    assert (settings.min_execution_timeout_ms, settings.max_execution_timeout_ms) == (5_000, 7 * 86_400_000)
    assert settings.worker_argv == ["gpu/.venv/bin/python", "-m", "codex_gpu"]


@pytest.mark.parametrize(
    ("variable", "value", "complaint"),
    [
        ("CODEX_RUNPOD_LOCAL_WORKER_ENDPOINT", "other", "WORKER_ENDPOINT"),
        ("CODEX_RUNPOD_LOCAL_WORKER_PING_INTERVAL_MS", "500", "PING_INTERVAL"),
        ("CODEX_RUNPOD_LOCAL_PORT", "x", "CODEX_RUNPOD_LOCAL_PORT"),
    ],
)
def test_settings_refuse_what_cannot_work(variable: str, value: str, complaint: str) -> None:
    with pytest.raises(SettingsError, match=complaint):
        Settings.from_env({variable: value})


def test_an_explicit_key_wins_over_runpod_api_key() -> None:
    settings = Settings.from_env({"CODEX_RUNPOD_LOCAL_API_KEY": "mine", "RUNPOD_API_KEY": "theirs"})
    assert settings.api_key == "mine"


def test_the_webhook_log_and_the_worker_list_are_bounded() -> None:
    import asyncio

    from codex_runpod_local import runtime, webhooks
    from codex_runpod_local.faults import Faults
    from codex_runpod_local.runtime import Endpoints

    sender = webhooks.WebhookSender(attempts=1, interval_s=0, timeout_s=0.1)

    async def drop_many() -> None:
        for n in range(webhooks.LOG_SIZE + 5):
            sender.send(
                "http://127.0.0.1:9/hook", {"id": f"j{n}", "status": "COMPLETED"}, Faults(drop_webhook=True)
            )
        await sender.drain()

    asyncio.run(drop_many())
    assert len(sender.log) == webhooks.LOG_SIZE and sender.log[-1].job_id == f"j{webhooks.LOG_SIZE + 4}"

    now = [0.0]
    endpoints = Endpoints(settings=Settings(endpoints=("ep",)), webhooks=sender, clock=lambda: now[0])
    seen_at = {("ep", f"w{n}"): 1000 + n / 100 for n in range(runtime.MAX_WORKERS_SEEN + 10)}
    endpoints.workers_seen.update(seen_at)
    now[0] = 1100.0  # every one seen within the last 100 s: only the cap applies
    endpoints.tick()
    assert len(endpoints.workers_seen) == runtime.MAX_WORKERS_SEEN
    assert ("ep", "w0") not in endpoints.workers_seen  # the oldest went first
    now[0] += runtime.WORKER_FORGET_S + 20
    endpoints.tick()
    assert endpoints.workers_seen == {}
