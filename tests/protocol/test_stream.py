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
