"""The job state machine of the local RunPod endpoint: pure, with an explicit clock."""

import pytest

from codex_runpod_local.domain import JobBook, JobNotFound, JobNotRetryable
from codex_runpod_local.job import Job, JobStatus, Policy, new_job_id

POLICY = Policy(execution_timeout_ms=10_000, ttl_ms=60_000)


def book(retention_s: float = 1800, sync_retention_s: float = 60) -> JobBook:
    return JobBook("ep", retention_s=retention_s, sync_retention_s=sync_retention_s)


def submit(
    b: JobBook, now: float = 0.0, policy: Policy = POLICY, sync: bool = False, **job_input: object
) -> Job:
    return b.submit(Job(new_job_id(sync), "ep", dict(job_input), policy, submitted_at=now, sync=sync))


def test_a_submitted_job_waits_in_the_queue_and_reports_only_its_id_and_status() -> None:
    b = book()
    job = submit(b, x=1)
    assert job.status is JobStatus.IN_QUEUE
    assert job.status_body(5.0) == {"id": job.id, "status": "IN_QUEUE"}
    assert b.counts()["inQueue"] == 1


def test_ids_look_like_the_clouds() -> None:
    assert new_job_id(sync=False).endswith("-u1")
    assert new_job_id(sync=True).startswith("sync-")


def test_a_worker_takes_jobs_in_order_and_gets_id_and_input() -> None:
    b = book()
    first, second = submit(b, now=0, n=1), submit(b, now=1, n=2)
    [taken] = b.take("w1", now=2.5)
    assert taken is first
    assert taken.worker_payload() == {"id": first.id, "input": {"n": 1}}
    assert taken.status_body(3.0) == {
        "id": first.id,
        "status": "IN_PROGRESS",
        "delayTime": 2500,
        "executionTime": 500,
        "workerId": "w1",
    }
    assert b.take("w2", now=3, limit=5) == [second]
    assert b.take("w3", now=3) == []


def test_output_completes_a_job_with_the_clouds_timings() -> None:
    b = book()
    job = submit(b, now=0)
    b.take("w1", now=1)
    transition = b.finish(job.id, "w1", {"output": {"ok": True}}, now=3)
    assert transition is not None and transition.job is job and transition.stop_worker is None
    assert job.status_body(100) == {
        "id": job.id,
        "status": "COMPLETED",
        "delayTime": 1000,
        "executionTime": 2000,
        "workerId": "w1",
        "output": {"ok": True},
    }
    assert job.webhook_body(100)["input"] == {}


def test_an_error_fails_the_job_and_keeps_the_message() -> None:
    b = book()
    job = submit(b)
    b.take("w1", now=0)
    b.finish(job.id, "w1", {"error": "not a video"}, now=1)
    assert job.status is JobStatus.FAILED
    assert job.status_body(1)["error"] == "not a video"
    assert "output" not in job.status_body(1)


@pytest.mark.parametrize("error", [{"code": "bad"}, ["bad"], 7, True])
def test_a_non_string_error_completes_the_job_without_output_as_the_cloud_does(error: object) -> None:
    # runpod-python issue 299: "If you use the error key, the value needs to be a str ... if you use a
    # dict, it will result in the job returning as COMPLETED instead of FAILED without any output".
    b = book()
    job = submit(b)
    b.take("w1", now=0)
    transition = b.finish(job.id, "w1", {"error": error, "output": {"rest": 1}}, now=1)
    assert transition is not None and job.status is JobStatus.COMPLETED
    body = job.status_body(1)
    assert "output" not in body and "error" not in body


def test_a_null_output_is_still_an_output() -> None:
    b = book()
    job = submit(b)
    b.take("w1", now=0)
    b.finish(job.id, "w1", {"output": None}, now=1)
    assert job.status_body(1)["output"] is None


def test_dropping_the_output_completes_without_it() -> None:
    b = book()
    job = submit(b)
    b.take("w1", now=0)
    b.finish(job.id, "w1", {"output": {"ok": True}}, now=1, drop_output=True)
    assert job.status is JobStatus.COMPLETED
    assert "output" not in job.status_body(1)


def test_results_from_a_worker_that_no_longer_holds_the_job_are_ignored() -> None:
    b = book()
    job = submit(b)
    b.take("w1", now=0)
    assert b.finish(job.id, "w2", {"output": 1}, now=1) is None
    b.cancel(job.id, now=1)
    assert b.finish(job.id, "w1", {"output": 1}, now=2) is None
    assert job.status is JobStatus.CANCELLED and not job.has_output
    assert b.finish("nope", "w1", {"output": 1}, now=2) is None


def test_cancelling_a_queued_job_needs_no_worker() -> None:
    b = book()
    job = submit(b)
    transition = b.cancel(job.id, now=1)
    assert transition is not None and transition.stop_worker is None
    assert job.status is JobStatus.CANCELLED
    assert b.take("w1", now=2) == []
    assert b.stop_signals == {}


def test_cancelling_a_running_job_signals_its_worker_once() -> None:
    b = book()
    job = submit(b)
    b.take("w1", now=0)
    transition = b.cancel(job.id, now=1)
    assert transition is not None and transition.stop_worker == "w1"
    assert b.take_stop_signals("w1", now=1) == [job.id]
    assert b.take_stop_signals("w1", now=1.5) == []
    assert b.take_stop_signals("w2", now=1.5) == []


def test_a_stop_signal_is_resent_until_the_workers_heartbeat_no_longer_lists_the_job() -> None:
    # The SDK loses a signal that arrives before the job's task exists; the cloud's worker would too.
    b = book()
    job = submit(b)
    b.take("w1", now=0)
    b.cancel(job.id, now=10)
    assert b.take_stop_signals("w1", now=10) == [job.id]
    assert b.take_stop_signals("w1", now=11) == [job.id]
    b.worker_running("w1", set(), now=11.5)  # too soon after the signal to prove anything
    b.worker_running("w1", {job.id}, now=12.5)  # still running it
    assert b.take_stop_signals("w1", now=12.5) == [job.id]
    b.worker_running("w1", set(), now=13)
    assert b.take_stop_signals("w1", now=14) == []


def test_a_stop_signal_ends_with_the_workers_result_or_after_a_while() -> None:
    b = book()
    late, stuck = submit(b), submit(b)
    b.take("w1", now=0, limit=2)
    b.cancel(late.id, now=1)
    b.cancel(stuck.id, now=1)
    b.finish(late.id, "w1", {"output": "late"}, now=2)
    assert b.take_stop_signals("w1", now=2) == [stuck.id]
    assert b.take_stop_signals("w1", now=31) == []


def test_cancelling_a_finished_job_changes_nothing() -> None:
    b = book()
    job = submit(b)
    b.take("w1", now=0)
    b.finish(job.id, "w1", {"output": 1}, now=1)
    assert b.cancel(job.id, now=2) is None
    assert job.status is JobStatus.COMPLETED


def test_retry_requeues_a_failed_job_and_clears_its_result() -> None:
    b = book()
    job = submit(b)
    b.take("w1", now=0)
    b.finish(job.id, "w1", {"error": "boom"}, now=1)
    b.retry(job.id, now=5)
    assert job.status_body(6) == {"id": job.id, "status": "IN_QUEUE"}
    assert b.counts()["retried"] == 1
    [again] = b.take("w2", now=7)
    assert again is job and job.status_body(7)["delayTime"] == 2000


@pytest.mark.parametrize("status", ["COMPLETED", "CANCELLED", "IN_QUEUE", "IN_PROGRESS"])
def test_only_failed_or_timed_out_jobs_retry(status: str) -> None:
    b = book()
    job = submit(b)
    if status != "IN_QUEUE":
        b.take("w1", now=0)
    if status == "COMPLETED":
        b.finish(job.id, "w1", {"output": 1}, now=1)
    if status == "CANCELLED":
        b.cancel(job.id, now=1)
    with pytest.raises(JobNotRetryable, match=status):
        b.retry(job.id, now=2)


def test_a_job_past_its_execution_timeout_times_out_and_its_worker_is_told() -> None:
    b = book()
    job = submit(b, policy=Policy(execution_timeout_ms=2000, ttl_ms=60_000))
    b.take("w1", now=1)
    assert b.tick(2.9) == []
    [transition] = b.tick(3.0)
    assert transition.job is job and transition.stop_worker == "w1"
    assert job.status is JobStatus.TIMED_OUT and job.error
    assert b.take_stop_signals("w1", now=3) == [job.id]
    b.retry(job.id, now=4)
    assert job.status is JobStatus.IN_QUEUE


TTL_10S = Policy(execution_timeout_ms=600_000, ttl_ms=10_000)


def test_a_queued_job_past_its_ttl_is_deleted_without_a_transition() -> None:
    b = book()
    job = submit(b, now=0, policy=TTL_10S)
    assert b.tick(9.9) == []
    assert b.tick(10.0) == []  # deleted: no TIMED_OUT, no webhook
    with pytest.raises(JobNotFound):
        b.get(job.id)
    assert b.take("w1", now=11) == []


def test_ttl_counts_from_submission_and_deletes_a_running_job_stopping_its_worker() -> None:
    b = book()
    job = submit(b, now=0, policy=TTL_10S)
    b.take("w1", now=8)  # the run does not restart the clock
    assert b.tick(9.9) == []
    b.tick(10.0)
    with pytest.raises(JobNotFound):
        b.get(job.id)
    assert b.take_stop_signals("w1", now=10) == [job.id]
    assert b.finish(job.id, "w1", {"output": "late"}, now=11) is None


def test_ttl_deletes_a_finished_job_before_its_retention_ends() -> None:
    b = book(retention_s=1800)
    job = submit(b, now=0, policy=TTL_10S)
    b.take("w1", now=1)
    b.finish(job.id, "w1", {"output": 1}, now=2)
    assert b.get(job.id).status is JobStatus.COMPLETED
    b.tick(10)
    with pytest.raises(JobNotFound):
        b.get(job.id)


def test_a_retried_job_taken_again_by_the_same_worker_is_not_stopped_by_the_old_signal() -> None:
    b = book()
    job = submit(b, policy=Policy(execution_timeout_ms=2000, ttl_ms=600_000))
    b.take("w1", now=0)
    b.tick(2.0)  # TIMED_OUT: a stop signal for w1
    assert job.status is JobStatus.TIMED_OUT
    b.retry(job.id, now=3)
    [again] = b.take("w1", now=3.5)  # within the 30 s a stale signal would live
    assert again is job
    assert b.take_stop_signals("w1", now=4) == []


def test_a_job_executed_again_runs_a_second_time_under_the_same_id() -> None:
    b = book()
    job = submit(b)
    b.take("w1", now=0)
    b.finish(job.id, "w1", {"output": "first"}, now=1)
    b.execute_again(job.id, now=1)
    assert job.status_body(1) == {"id": job.id, "status": "IN_QUEUE"}
    [again] = b.take("w2", now=2)
    assert again is job and job.executions == 2
    b.finish(job.id, "w2", {"output": "second"}, now=3)
    assert job.status_body(3)["output"] == "second" and b.counts()["retried"] == 0


def test_finished_jobs_are_forgotten_after_retention_sync_ones_sooner() -> None:
    b = book(retention_s=1800, sync_retention_s=60)
    day = Policy(execution_timeout_ms=10_000, ttl_ms=86_400_000)
    run, sync = submit(b, policy=day), submit(b, policy=day, sync=True)
    b.cancel(run.id, now=0)
    b.cancel(sync.id, now=0)
    b.tick(59.9)
    assert b.get(sync.id)
    b.tick(60)
    with pytest.raises(JobNotFound):
        b.get(sync.id)
    b.tick(1799.9)
    assert b.get(run.id)
    b.tick(1800)
    with pytest.raises(JobNotFound):
        b.get(run.id)


def test_forget_later_only_shortens_retention_of_finished_jobs() -> None:
    b = book()
    queued, done = submit(b), submit(b)
    b.cancel(done.id, now=0)
    b.forget_later(queued.id, at=1)
    b.forget_later(done.id, at=1)
    b.tick(1)
    assert b.get(queued.id)
    with pytest.raises(JobNotFound):
        b.get(done.id)


def test_purge_removes_only_queued_jobs() -> None:
    b = book()
    running, queued1, queued2 = submit(b), submit(b), submit(b)
    b.take("w1", now=0)
    assert b.purge_queue() == 2
    assert b.get(running.id).status is JobStatus.IN_PROGRESS
    for job in (queued1, queued2):
        with pytest.raises(JobNotFound):
            b.get(job.id)
    assert not b.has_queued()


def test_counts_and_busy_workers() -> None:
    b = book()
    done, failed, running, _queued = submit(b), submit(b), submit(b), submit(b)
    b.take("w1", now=0)
    b.take("w2", now=0)
    b.take("w3", now=0)
    b.finish(done.id, "w1", {"output": 1}, now=1)
    b.finish(failed.id, "w2", {"error": "x"}, now=1)
    assert b.counts() == {"completed": 1, "failed": 1, "inProgress": 1, "inQueue": 1, "retried": 0}
    assert b.busy_workers() == {"w3"}
    assert b.worker_jobs("w3") == [running.id]


def test_stream_partials_are_kept_for_the_running_job_only() -> None:
    b = book()
    job = submit(b)
    b.take("w1", now=0)
    assert b.add_stream(job.id, "w1", {"p": 1})
    assert not b.add_stream(job.id, "w2", {"p": 2})
    assert job.stream == [{"p": 1}]


def test_progress_shows_as_output_while_running_and_gives_way_to_the_result() -> None:
    b = book()
    job = submit(b)
    b.take("w1", now=0)
    assert b.report_progress(job.id, "w1", {"stage": "transcode", "percent": 40})
    assert job.status_body(1)["output"] == {"stage": "transcode", "percent": 40}
    b.finish(job.id, "w1", {}, now=2)
    assert job.status is JobStatus.COMPLETED and "output" not in job.status_body(2)
    assert not b.report_progress(job.id, "w1", {"percent": 90})  # a straggler from its thread
