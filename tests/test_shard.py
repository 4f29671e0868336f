"""--shard K/N: N shard runs write exactly the files one run writes, each file in exactly one shard."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sr_studio.core.batch import BatchRequest, OutputOptions, batch_request_job, plan_batch
from sr_studio.core.errors import UsageError
from sr_studio.core.jobs import run_job
from sr_studio.core.ledger import read_ledger
from sr_studio.core.shard import Shard, parse_shard, relative_output
from sr_studio.upscale_command import EXIT_OK
from tests.pictures import textured


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """Nine small pictures, three of them in a sub-folder."""
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    for index in range(9):
        where = folder / "sub" if index % 3 == 0 else folder
        Image.fromarray(textured(8, 10, seed=index)).save(where / f"p{index}.png")
    return folder


def request(library, inputs, out, shard=None) -> BatchRequest:
    return BatchRequest(
        inputs=tuple(inputs),
        output=out,
        options=OutputOptions(),
        model=library.find("smooth-x2"),
        device="cpu",
        precision="fp32",
        recursive=True,
        shard=shard,
    )


def files(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in folder.rglob("*.png")
        if path.is_file()
    }


def test_shards_together_write_exactly_one_runs_files_and_none_twice(library, tree, tmp_path):
    whole = run_job(batch_request_job(request(library, [tree], tmp_path / "whole"), library))
    sharded = tmp_path / "sharded"
    parts = [
        run_job(batch_request_job(request(library, [tree], sharded, Shard(k, 3)), library)) for k in (1, 2, 3)
    ]
    written = [sorted(p.relative_to(sharded).as_posix() for p in part.written) for part in parts]
    assert sum(len(names) for names in written) == len(whole.written) == 9
    assert len({name for names in written for name in names}) == 9  # disjoint
    assert files(sharded) == files(tmp_path / "whole")  # the same files, byte for byte
    assert sum(1 for names in written if names) >= 2  # the hash does spread the files
    for k in (1, 2, 3):
        lines = read_ledger(sharded / f"sr-studio-ledger-{k}-of-3.jsonl")
        assert (
            sorted(Path(line["output"]).relative_to(sharded).as_posix() for line in lines) == written[k - 1]
        )
        assert {line["shard"] for line in lines} == {f"{k}/3"}
    assert not (sharded / "sr-studio-ledger.jsonl").exists()


def test_a_file_belongs_to_its_shard_by_its_relative_output_path_wherever_the_tree_lies(
    library, tree, tmp_path
):
    moved = tmp_path / "elsewhere" / "copy"
    moved.parent.mkdir()
    tree.rename(moved)
    options = OutputOptions()
    here, _ = plan_batch([moved], tmp_path / "a", options, scale=2, model="smooth-x2", recursive=True)
    there, _ = plan_batch([moved], tmp_path / "b" / "c", options, scale=2, model="smooth-x2", recursive=True)
    for count in (1, 2, 5):
        for index in range(1, count + 1):
            shard = Shard(index, count)
            assert [relative_output(i, t) for i, t in shard.select(here)] == [
                relative_output(i, t) for i, t in shard.select(there)
            ]
    owners = [[k for k in range(1, 5) if Shard(k, 4).owns(relative_output(i, t))] for i, t in here]
    assert all(len(found) == 1 for found in owners)
    assert "sub/p0_x2.png" in {relative_output(i, t) for i, t in here}


def test_planning_failures_are_reported_by_the_first_shard_only(library, tree, tmp_path):
    missing = tmp_path / "nowhere.png"
    reports = [
        run_job(batch_request_job(request(library, [tree, missing], tmp_path / "o", Shard(k, 2)), library))
        for k in (1, 2)
    ]
    assert [len(report.failed) for report in reports] == [1, 0]
    assert reports[0].failed[0][0] == missing


def test_a_rerun_of_a_shard_skips_its_finished_files(library, tree, tmp_path):
    out = tmp_path / "out"
    first = run_job(batch_request_job(request(library, [tree], out, Shard(2, 2)), library))
    again = run_job(batch_request_job(request(library, [tree], out, Shard(2, 2)), library))
    assert first.written and not again.written
    assert sorted(again.skipped) == sorted(first.written)


@pytest.mark.parametrize("text", ["0/3", "4/3", "1/0", "a/b", "2", "1/2/3", ""])
def test_bad_shards_are_usage_errors(text):
    with pytest.raises(UsageError, match="shard"):
        parse_shard(text)


def test_parse_shard_reads_k_of_n():
    assert parse_shard("3/8") == Shard(3, 8) and str(parse_shard(" 1 / 1 ")) == "1/1"


def test_the_cli_runs_one_shard_and_says_so(library, tree, tmp_path, capsys):
    import json

    from sr_studio.cli import main

    out = tmp_path / "out"
    arguments = [
        "upscale",
        str(tree),
        "-o",
        str(out),
        "--recursive",
        "--model",
        "smooth-x2",
        "--device",
        "cpu",
    ]
    code = main([*arguments, "--shard", "1/2", "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == EXIT_OK
    assert summary["shard"] == "1/2" and summary["cluster"] is None
    assert summary["ledger"] == str(out / "sr-studio-ledger-1-of-2.jsonl")
    assert len(read_ledger(out / "sr-studio-ledger-1-of-2.jsonl")) == len(summary["written"])
    assert main([*arguments, "--shard", "3/2"]) == 2
    assert "--shard 3/2" in capsys.readouterr().err
    written = [np.asarray(Image.open(path)) for path in summary["written"]]
    assert all(picture.shape[:2] in {(16, 20)} for picture in written)
