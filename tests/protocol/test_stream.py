"""Per-job ordering: the server's sequencer and the client's checker agree, and the checker
reports lost, duplicated and late messages."""

import pytest

import shared_protocol as sp


def job_stream(job="j1", frames=3):
    sequencer = sp.StreamSequencer(job)
    messages = [sequencer.stamp(sp.make_accepted("c1", job, 2))]
    messages.append(sequencer.stamp(sp.make_progress(job, None, "queued", 0, 0, queue_position=1)))
    for index in range(frames):
        messages.append(sequencer.stamp(sp.make_frame(job, None, index, frames, b"png", 8, 8)))
    messages.append(sequencer.stamp(sp.make_done(job, None, {"total": 1.0}, 5, {}, frames)))
    return sequencer, messages


def test_sequencer_numbers_from_zero_and_refuses_after_final():
    sequencer, messages = job_stream()
    assert [msg.seq for msg in messages] == list(range(len(messages)))
    assert all(msg.job == "j1" for msg in messages)
    with pytest.raises(sp.ProtocolError):
        sequencer.stamp(sp.make_progress("j1", None, "encoding", 1, 1))


def test_checker_accepts_interleaved_jobs_through_the_wire():
    _, first = job_stream("a")
    _, second = job_stream("b", frames=2)
    checker = sp.StreamChecker()
    interleaved = [msg for pair in zip(first, second) for msg in pair] + first[len(second):]
    finals = [checker.check(sp.decode(sp.encode(msg))) for msg in interleaved]
    assert finals.count(True) == 2 and finals[-1] is True
    assert checker.check(sp.make_pong(sp.make_ping(1.0))) is False


@pytest.mark.parametrize("order, words", [
    ([0, 1, 3], r"1 message\(s\) lost"),
    ([0, 1, 1], "duplicate"),
    ([0, 2, 1], "lost"),
])
def test_checker_reports_gaps_and_duplicates(order, words):
    _, messages = job_stream()
    checker = sp.StreamChecker()
    with pytest.raises(sp.ProtocolError, match=words) as info:
        for index in order:
            checker.check(messages[index])
    assert (info.value.code, info.value.field) == ("bad_message", "header.seq")


def test_checker_rejects_messages_after_the_final_one():
    _, messages = job_stream()
    checker = sp.StreamChecker()
    for msg in messages:
        checker.check(msg)
    late = sp.make_frame("j1", len(messages), 9, 9, b"png", 8, 8)
    with pytest.raises(sp.ProtocolError, match="after the job's final"):
        checker.check(late)
    checker.forget("j1")
    assert checker.check(sp.make_accepted("c2", "j1", 0)) is False


def test_sequencer_error_names_the_job_and_the_late_message():
    sequencer, _ = job_stream("j7")
    assert sequencer.ended and sequencer.next_seq == 6
    with pytest.raises(sp.ProtocolError) as info:
        sequencer.stamp(sp.make_progress("j7", None, "encoding", 1, 1))
    assert (info.value.code, info.value.message) == ("internal", "job j7: 'progress' after the stream's final message")


@pytest.mark.parametrize("final", [
    lambda job: sp.make_error(sp.ProtocolError("backend_error", "boom"), job=job),
    lambda job: sp.make_cancelled(job, None, 0),
])
def test_sequencer_ends_on_error_and_cancelled_too(final):
    sequencer = sp.StreamSequencer("j2")
    assert (sequencer.job, sequencer.next_seq, sequencer.ended) == ("j2", 0, False)
    assert sequencer.stamp(sp.make_accepted("c", "j2", 0)).seq == 0 and not sequencer.ended
    last = sequencer.stamp(final("j2"))
    assert (last.job, last.seq, sequencer.ended) == ("j2", 1, True) and type(sequencer.ended) is bool
    with pytest.raises(sp.ProtocolError):
        sequencer.stamp(sp.make_progress("j2", None, "queued", 0, 0))


def test_checker_messages_say_what_was_expected_and_how_many_were_lost():
    _, messages = job_stream("j3")
    checker = sp.StreamChecker()
    checker.check(messages[0])
    with pytest.raises(sp.ProtocolError) as info:
        checker.check(messages[4])
    assert info.value.message == "job j3: expected seq 1, got 4 (3 message(s) lost)"
    checker.check(messages[1])
    with pytest.raises(sp.ProtocolError) as info:
        checker.check(messages[1])
    assert info.value.message == "job j3: expected seq 2, got 1 (duplicate or reordered)"
    for msg in messages[2:]:
        checker.check(msg)
    with pytest.raises(sp.ProtocolError) as info:
        checker.check(sp.make_frame("j3", 9, 0, 1, b"png", 8, 8))
    assert (info.value.code, info.value.field, info.value.message) == (
        "bad_message", "header.seq", "job j3: 'frame' (seq 9) arrived after the job's final message")


def test_checker_returns_true_only_for_the_final_message_of_a_job():
    _, messages = job_stream("j4", frames=2)
    checker = sp.StreamChecker()
    assert [checker.check(msg) for msg in messages] == [False] * (len(messages) - 1) + [True]
    # a message with a job but no seq (an `error` answering a cancel) passes through, ending nothing
    answer = sp.make_error(sp.ProtocolError("unknown_job", "no job"), re="c9", job="j5")
    assert checker.check(answer) is False
    assert checker.check(sp.make_accepted("c", "j5", 0)) is False      # j5's stream is still whole


def test_forget_drops_a_jobs_position_so_its_stream_can_start_again():
    _, messages = job_stream("j6")
    checker = sp.StreamChecker()
    checker.check(messages[0])
    checker.check(messages[1])
    checker.forget("j6")
    assert checker.check(messages[0]) is False       # seq 0 is expected again
    checker.forget("never-seen")                      # unknown jobs are fine
