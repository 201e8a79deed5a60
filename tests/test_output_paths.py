"""Every option that writes a file or folder is checked by one function before
any training, generation or simulation starts: one line naming the option."""
import pytest

from layerpipe.hw import generator, schedule_cli
from layerpipe.hw.errors import LayerPipeError
from layerpipe.hw.output_paths import check_output
from layerpipe.scripts import bench, cli, synth
from layerpipe.sim import rtl_sim, train

# option -> (the command line before it, the file name it wants)
FILE_OPTIONS = {
    "save-weights": (["train", "--net", "4-8-3", "--dataset", "iris", "--epochs", "1"], "w.npz"),
    "plot": (["train", "--net", "4-8-3", "--dataset", "iris", "--epochs", "1"], "curves.png"),
    "gantt": (["schedule", "--net", "64-32-10", "--processors", "2"], "g.png"),
    "waves": (["sim", "--net", "4-8-3", "--dataset", "iris", "--samples", "1"], "run.vcd"),
}


@pytest.fixture
def no_work(monkeypatch):
    """Make every long step fail loudly, so a test sees the check came first."""
    def work(*args, **kwargs):
        raise AssertionError("work started before the output path was checked")
    for module, name in ((train, "train"), (generator, "generate"), (rtl_sim, "simulate"),
                         (schedule_cli, "result"), (schedule_cli, "sweep_rows"), (synth, "build"),
                         (bench, "bench")):
        monkeypatch.setattr(module, name, work)


def bad_files(tmp_path, name):
    """(path, what the message says) for each way a file path can be unwritable."""
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    a_folder = tmp_path / "folder" / name
    a_folder.mkdir(parents=True)
    return [(tmp_path / "missing" / name, "does not exist"),
            (a_file / name, "is a file, not a folder"),
            (a_folder, "is a folder"),
            (f"/sys/{name}", "cannot be written")]


@pytest.mark.parametrize("option", FILE_OPTIONS)
def test_an_unwritable_output_file_is_one_line_before_any_work(option, tmp_path, no_work, capsys):
    before, name = FILE_OPTIONS[option]
    for path, says in bad_files(tmp_path, name):
        assert cli.main([*before, f"--{option}", str(path)]) == 2, path
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1, err
        assert err.startswith(f"layerpipe: error: {option}: {str(path)!r}") and says in err, err


OUT_COMMANDS = {"generate": ["generate", "--net", "4-8-3"], "synth": ["synth", "--board", "icebreaker"],
                "bench": ["bench", "--quick"]}


@pytest.mark.parametrize("command", OUT_COMMANDS)
@pytest.mark.parametrize("out, says", [("a_file", "is a file, not a folder"),
                                       ("a_file/sub", "is a file, not a folder"),
                                       ("/sys/layerpipe-out", "cannot be written")])
def test_an_out_folder_that_cannot_be_one_is_one_line_before_any_work(command, out, says, tmp_path, no_work,
                                                                      capsys):
    (tmp_path / "a_file").write_text("x")
    path = out if out.startswith("/") else str(tmp_path / out)
    assert cli.main([*OUT_COMMANDS[command], "--out", path]) == 2
    out_, err = capsys.readouterr()
    assert out_ == "" and err.count("\n") == 1 and err.startswith(f"layerpipe: error: out: {path!r}") \
        and says in err, err


def test_writable_outputs_pass_and_leave_nothing_behind(tmp_path):
    assert check_output(tmp_path / "w.npz", "save-weights", suffixes=(".npz",)) == tmp_path / "w.npz"
    existing = tmp_path / "old.png"
    existing.write_bytes(b"keep")
    check_output(existing, "plot", suffixes=(".png",))
    assert existing.read_bytes() == b"keep"           # checked, not truncated
    check_output(tmp_path / "new" / "deeper", "out", folder=True)   # created later, with its parents
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.png"]
    with pytest.raises(LayerPipeError, match=r"save-weights: 'w.txt': the file name must end in .npz"):
        check_output("w.txt", "save-weights", suffixes=(".npz",))
