from diwa.progress import ENV_VAR, ProgressFollower, report


def test_reports_reach_the_follower_in_order(tmp_path, monkeypatch):
    path = tmp_path / "progress.jsonl"
    follower = ProgressFollower(path)
    assert follower.new_records() == []
    monkeypatch.setenv(ENV_VAR, str(path))
    report("train", step=1, loss=float("nan"), losses={"kl": 0.5})
    report("train", step=2, loss=0.25)
    records = follower.new_records()
    assert [r["step"] for r in records] == [1, 2]
    assert records[0]["loss"] is None and records[0]["losses"] == {"kl": 0.5}
    assert follower.new_records() == []


def test_partial_line_is_kept_until_complete(tmp_path):
    path = tmp_path / "progress.jsonl"
    path.write_text('{"kind": "a", "step": 1}\n{"kind": "a", "st')
    follower = ProgressFollower(path)
    assert [r["step"] for r in follower.new_records()] == [1]
    with path.open("a") as stream:
        stream.write('ep": 2}\n')
    assert [r["step"] for r in follower.new_records()] == [2]


def test_without_the_variable_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    report("train", step=1)
    assert list(tmp_path.iterdir()) == []
