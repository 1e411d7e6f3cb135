"""Issue 24, item 8: `inbox list` over every inbox is in the order messages were sent (history,
SPEC section 1), not inbox by inbox, whatever their clocks say."""

from __future__ import annotations

from tests.conftest import Repo


def _subjects(repo: Repo, *args: str) -> list[str]:
    result = repo.lk("inbox", "list", "--json", *args)
    assert result.code == 0, result.err
    return [m["subject"] for m in result.json["messages"]]


def test_messages_sent_within_one_second_list_in_the_order_sent(repo: Repo) -> None:
    sent = []
    for n, to in enumerate(["builder", "adversary", "builder", "orchestrator", "adversary"]):
        # the same second for all (LOOPKIT_NOW), and one clock running backwards
        now = "2026-06-13T13:44:00Z" if n != 3 else "2026-06-13T13:40:00Z"
        subject = f"{n} to {to}"
        result = repo.lk("inbox", "send", "--to", to, "--subject", subject, "--body", "x",
                         role="orchestrator", env={"LOOPKIT_NOW": now})  # fmt: skip
        assert result.code == 0, result.err
        sent.append(subject)
    assert _subjects(repo) == sent
    assert _subjects(repo, "--to", "adversary") == [s for s in sent if s.endswith("adversary")]
    # one not committed yet comes after every committed one
    late = repo.lk("inbox", "send", "--to", "adversary", "--subject", "5 late", "--body", "x", "--no-commit",
                   role="builder")  # fmt: skip
    assert late.code == 0, late.err
    assert _subjects(repo) == [*sent, "5 late"]
