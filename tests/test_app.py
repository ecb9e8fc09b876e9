"""`hrm app`: the web app's solving (no browser), the Space it exports and pushes, the missing-extra line, and the page
itself served by a real `hrm app` process and driven in headless Chromium.

The model is the small trained 4x4 Sudoku model of the fixtures; the puzzles below are ones it solves (or, at K=1,
does not: test-time scaling with `rules` then does).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import yaml

from hrm_hf.app import page as page_module
from hrm_hf.app.page import answer_fields, random_fields, solve_fields
from hrm_hf.app.solving import load_solver
from hrm_hf.app.space import export_space
from hrm_hf.hub import push_folder
from hrm_hf.scripts import cli
from hrm_hf.tokenization_hrm import SUDOKU
from tests.helpers import FIXTURES, MAZE, build_arc_fixture, build_tiny_data, tiny_model_folder
from tests.helpers import SUDOKU as SUDOKU_9X9


MODEL = FIXTURES / "tts" / "sudoku4-model"
PUZZLE, SOLUTION = "12.434.22143.321", "1234341221434321"  # solved as it is, in one segment
HARD, HARD_SOLUTION = "341...4342.1.3.4", "3412214342311324"  # wrong at K=1; K=8 with `rules` solves it
CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium's own connections are refused by a closed network and it stalls.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SERVER_START_S = 120  # `hrm app` imports torch, transformers and gradio and loads the model before it answers


@pytest.fixture(scope="module")
def solver():
    return load_solver(str(MODEL))


@pytest.fixture(scope="module")
def solvers(solver, tmp_path_factory):
    """A solver of each puzzle type the page takes: the trained 4x4 Sudoku model (no puzzle embeddings), and tiny
    random maze and ARC models (17 puzzle identifiers, as the ARC fixture's dataset) with held-out puzzles."""
    from hrm_hf.data.maze import build_maze_dataset
    from hrm_hf.data.maze_generator import generate_mazes

    folder = tmp_path_factory.mktemp("app-models")
    mazes = generate_mazes(4, seed=0, progress=False)
    build_maze_dataset(mazes[:2], mazes[2:], output_dir=folder / "maze-data")
    build_arc_fixture(folder / "arc-data")
    tiny_model_folder(folder / "maze", seq_len=900, vocab_size=6, halt_max_steps=2)
    tiny_model_folder(folder / "arc", seq_len=900, vocab_size=12, num_puzzle_identifiers=17, halt_max_steps=2)
    return {
        "sudoku": solver,
        "maze": load_solver(str(folder / "maze"), dataset=str(folder / "maze-data")),
        "arc": load_solver(str(folder / "arc"), dataset=str(folder / "arc-data")),
    }


def hrm(argv: list[str], capsys) -> tuple[int, str, str]:
    """`hrm argv` in this process: exit code, stdout, stderr."""
    try:
        cli.main(argv)
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def cells(grid_text: str) -> str:
    """The digits of an answer as `hrm solve` prints it (with box separators)."""
    return "".join(ch for ch in grid_text if ch.isdigit())


# ---------------------------------------------------------------- solving, without a browser


def test_a_puzzle_the_model_solves_shows_its_grid_pictures_and_rule_check(solver):
    answer = solver.solve("sudoku", PUZZLE)
    assert cells(answer.text) == SOLUTION and answer.follows_rules and answer.votes is None
    assert answer.segments == 1 and 0.5 < answer.halt_confidence < 1
    # The pictures `hrm solve --png` and `--segments` draw: puzzle and answer; puzzle and one panel per segment.
    assert answer.picture.width > answer.picture.height
    assert answer.segments_picture.width > answer.picture.width
    status, text, _, _, segments, confidence, rules = answer_fields(answer)
    assert (status, segments, rules) == ("solved", "1", "yes") and confidence == f"{answer.halt_confidence:.3f}"


def test_a_wrong_answer_says_which_rule_it_breaks(solver):
    answer = solver.solve("sudoku", HARD)
    assert not answer.follows_rules and "row 2 repeats a digit" in answer.problem
    status, *_, rules = answer_fields(answer)
    assert status.startswith("not solved") and rules.startswith("no: ")


def test_test_time_scaling_with_rules_solves_what_one_try_does_not(solver):
    answer = solver.solve("sudoku", HARD, tta=8, select="rules")
    assert cells(answer.text) == HARD_SOLUTION and answer.follows_rules
    assert answer.votes >= 1 and answer.segments > 8  # eight copies, each at least one segment


def short_id(value) -> str | None:
    """A test id for a long puzzle: its first characters and length (pytest would spell out 100,000 characters)."""
    return f"{value[:12]}...({len(value)})" if isinstance(value, str) and len(value) > 40 else None


DEEP_JSON = "[" * 100_000 + "]" * 100_000  # deeper than json's recursion
TALL_GRID = "[" + "[1]," * 30 + "[1]]"  # 31 rows
ONE = (0, 1, "vote")  # the page's defaults: identifier 0 (the blank puzzle's), one try
NOT_JSON = "error: arc must be a JSON file or grid such as [[0, 1], [1, 0]], got"


@pytest.mark.parametrize(
    ("model", "type_name", "text", "settings", "message"),
    [
        ("sudoku", "sudoku", "12.4", ONE, "error: sudoku must have 16 cells, got 4 in '12.4'."),
        ("sudoku", "sudoku", "", ONE, "error: sudoku must have 16 cells, got 0 in ''."),
        ("sudoku", "sudoku", " \n\t ", ONE, "error: sudoku must have 16 cells, got 0 in ' \\n\\t '."),
        ("sudoku", "sudoku", SUDOKU_9X9, ONE, f"error: sudoku must have 16 cells, got 81 in '{SUDOKU_9X9[:40]}"),
        ("sudoku", "sudoku", "1" * 100_000, ONE, "error: sudoku must have 16 cells, got 100000 in '1111"),
        ("sudoku", "sudoku", "12.4\udcff34.22143.321", ONE, "error: sudoku must have 16 cells, got 17 in '12.4\\udcff"),
        ("sudoku", "sudoku", "11" + "." * 14, ONE, "error: sudoku clues clash: row 1 has the clue 1 twice."),
        ("sudoku", "sudoku", "52.434.22143.321", ONE, "error: sudoku may hold only '.01234', got '5'."),
        ("sudoku", "sudoku", "12.434.22143.32x", ONE, "error: sudoku may hold only '.01234', got 'x'."),
        # The Sudoku model has no puzzle embeddings: the blank puzzle's identifier 0 is its only one.
        ("sudoku", "sudoku", PUZZLE, (1, 1, "vote"), "error: puzzle_identifier must lie in [0, 1), got 1."),
        ("sudoku", "sudoku", PUZZLE, (-1, 1, "vote"), "error: puzzle_identifier must lie in [0, 1), got -1."),
        ("sudoku", "maze", PUZZLE, ONE, f"error: puzzle type maze chosen, but the model {MODEL} is for sudoku."),
        ("sudoku", "arc", "[[1]]", ONE, f"error: puzzle type arc chosen, but the model {MODEL} is for sudoku."),
        ("maze", "maze", "#" * 100_000, ONE, "error: maze must be a file or 30 lines of text, got no file '###"),
        ("maze", "maze", MAZE, (1, 1, "vote"), "error: puzzle_identifier must lie in [0, 1), got 1."),
        ("arc", "arc", "[[1]]", (17, 1, "vote"), "error: puzzle_identifier must lie in [0, 17), got 17."),
        ("arc", "arc", "[[1]]", (-1, 1, "vote"), "error: puzzle_identifier must lie in [0, 17), got -1."),
        ("arc", "arc", "[[1]]", (2.5, 1, "vote"), "error: puzzle_identifier must lie in [0, 17), got 2.5."),
        ("arc", "arc", "[[1]]", (float("nan"), 1, "vote"), "error: puzzle_identifier must lie in [0, 17), got nan."),
        ("arc", "arc", "[[1]]", (float("inf"), 1, "vote"), "error: puzzle_identifier must lie in [0, 17), got inf."),
        ("arc", "arc", "[[1]]", (0, 16, "rules"), "error: tta must be 1 for arc: each augmented arc puzzle has its"),
        ("arc", "arc", TALL_GRID, ONE, "error: ARC grid must be 2-D with sides 1..30, got shape [31, 1]."),
        ("arc", "arc", "hello", ONE, f"{NOT_JSON} 'hello': Expecting value"),
        ("arc", "arc", DEEP_JSON, ONE, f"{NOT_JSON} '[[[["),
    ],
    ids=short_id,
)  # fmt: skip
def test_bad_input_is_one_line_on_the_page(solvers, monkeypatch, model, type_name, text, settings, message):
    monkeypatch.delenv("HRM_DEBUG", raising=False)  # with it, the page raises for the traceback
    status, text_out, picture, formed, segments, confidence, rules = solve_fields(
        solvers[model], type_name, text, *settings
    )
    assert status.startswith(message) and "\n" not in status and "unexpected" not in status, status
    assert (text_out, picture, formed, segments, confidence, rules) == ("", None, None, "", "", "")


def test_a_bad_test_time_setting_is_one_line(solver):
    status = solve_fields(solver, "sudoku", PUZZLE, 0, 4, "majority")[0]
    assert status == "error: select must be one of ('vote', 'rules'), got 'majority'."


def test_random_held_out_puzzles_come_from_the_test_split(tmp_path):
    data = build_tiny_data(tmp_path / "data")
    with_data = load_solver(str(MODEL), dataset=str(data))
    text, identifier, status = random_fields(with_data, np.random.default_rng(0))
    assert len(text) == 16 and identifier == 0 and status == "a held-out puzzle: press Solve"
    assert SUDOKU.encode(text, 16) is not None and with_data.solve("sudoku", text).segments >= 1


@pytest.mark.parametrize("type_name", ["maze", "arc"])
def test_a_held_out_maze_or_arc_puzzle_goes_back_through_the_page(solvers, type_name):
    text, identifier, status = random_fields(solvers[type_name], np.random.default_rng(0))
    assert status == "a held-out puzzle: press Solve"
    # The text the puzzle box gets is what the type reads: 30 maze lines, an ARC JSON grid.
    assert text.count("\n") == 29 if type_name == "maze" else text.startswith("[[")
    status, answer, picture, formed, segments, *_ = solve_fields(
        solvers[type_name], type_name, text, identifier, 1, "vote"
    )
    assert not status.startswith("error") and answer and picture and formed and int(segments) >= 1, status


def test_a_maze_with_windows_line_ends_reads_as_with_unix_ones(solvers):
    windows = solvers["maze"].solve("maze", MAZE.replace("\n", "\r\n"))
    assert windows.text == solvers["maze"].solve("maze", MAZE).text


def test_random_without_a_dataset_says_how_to_give_one(solver):
    status = random_fields(solver, np.random.default_rng(0))[2]
    assert status == "error: no held-out puzzles: start the app with --dataset FOLDER_OR_REPO to draw them."


# ---------------------------------------------------------------- the command line


def test_help_lists_every_option_with_its_default_without_loading_gradio():
    code = (
        "import sys\nfrom hrm_hf.scripts import cli\n"
        "try:\n    cli.main(['app', '--help'])\nexcept SystemExit:\n    pass\n"
        "print('gradio' in sys.modules, 'torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip().endswith("False False"), done.stderr[-2000:]
    for option in ("--model", "--dataset", "--export", "--push-to-hub", "--private", "--revision"):
        assert option in done.stdout
    assert "(default: 127.0.0.1)" in done.stdout and "(default: 7860)" in done.stdout


def test_without_gradio_the_command_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "gradio", None)  # `import gradio` now raises ImportError
    for argv in (["app", "--model", str(MODEL)], ["app", "--model", str(MODEL), "--export", str(tmp_path / "space")]):
        code, out, err = hrm(argv, capsys)
        assert code == 2 and err == 'error: hrm app needs Gradio, an optional extra: pip install "hrm-hf[app]"\n'
    assert not (tmp_path / "space").exists()


# ---------------------------------------------------------------- the Space


def front_matter(readme: str) -> dict:
    """The YAML header of a README (between the first two `---` lines)."""
    assert readme.startswith("---\n")
    return yaml.safe_load(readme.split("---\n")[1])


def test_export_writes_a_space_that_serves_the_copied_model(tmp_path, capsys):
    import gradio

    from hrm_hf.app import space

    code, out, err = hrm(["app", "--model", str(MODEL), "--export", str(tmp_path / "space")], capsys)
    assert code == 0, err
    folder = tmp_path / "space"
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) == [
        "README.md", "app.py", "model", "model/config.json", "model/model.safetensors", "requirements.txt",
    ]  # fmt: skip
    assert (folder / "model" / "model.safetensors").read_bytes() == (MODEL / "model.safetensors").read_bytes()
    header = front_matter((folder / "README.md").read_text())
    assert header == {
        "title": "HRM puzzle solver", "emoji": "🧩", "colorFrom": "blue", "colorTo": "green", "sdk": "gradio",
        "sdk_version": gradio.__version__, "app_file": "app.py", "pinned": False, "license": "apache-2.0",
        "python_version": f"{sys.version_info.major}.{sys.version_info.minor}",
    }  # fmt: skip
    from importlib.metadata import version

    # The model is named by its folder's name: the path on the exporter's disk is not published.
    readme, app = (folder / "README.md").read_text(), (folder / "app.py").read_text()
    assert "`sudoku4-model`" in readme and "sudoku4-model" in app and str(MODEL.parent) not in readme + app
    requirement = [line for line in (folder / "requirements.txt").read_text().splitlines() if not line.startswith("#")]
    assert requirement == [f"hrm-hf[app]=={version('hrm-hf')}"]
    # `python app.py` in the Space's folder serves the model copied beside it, on the port the Space gives.
    port, log = free_port(), tmp_path / "space.log"
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    with open(log, "w") as output:
        server = subprocess.Popen([sys.executable, "app.py"], cwd=folder, env=env, stdout=output, stderr=output)
    try:
        wait_until_served(f"http://127.0.0.1:{port}/", server, log)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=10) as config:
            assert f"Model `{folder / space.SPACE_MODEL_FOLDER}`" in config.read().decode()
    finally:
        server.terminate()
        server.wait(timeout=30)


def folder_with_a_file(tmp_path: Path) -> Path:
    (tmp_path / "space").mkdir()
    (tmp_path / "space" / "mine.txt").write_text("keep")
    return tmp_path / "space"


def a_file(tmp_path: Path) -> Path:
    (tmp_path / "space").write_text("keep")
    return tmp_path / "space"


def inside_a_file(tmp_path: Path) -> Path:
    (tmp_path / "file").write_text("keep")
    return tmp_path / "file" / "space"


def link_to_nothing(tmp_path: Path) -> Path:
    (tmp_path / "space").symlink_to(tmp_path / "nowhere")
    return tmp_path / "space"


def no_name(tmp_path: Path) -> str:
    return ""  # an unset shell variable: Path("") would be the current folder


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (no_name, "--export must name a folder, got ''."),
        (folder_with_a_file, "--export: '{folder}' is not an empty folder; choose another one."),
        (a_file, "--export: '{folder}' is a file, not a folder."),
        (inside_a_file, "--export: '{folder}' lies inside '{folder.parent}', a file, not a folder."),
        (link_to_nothing, "--export: '{folder}' is a link to nothing; remove it or choose another."),
    ],
)
def test_export_to_what_is_no_empty_folder_is_one_line_and_leaves_it_alone(tmp_path, capsys, make, message):
    folder = make(tmp_path)
    before = sorted((p.as_posix(), p.is_symlink()) for p in tmp_path.rglob("*"))
    code, out, err = hrm(["app", "--model", str(MODEL), "--export", str(folder)], capsys)
    assert (code, err) == (1, f"error: {message.format(folder=folder)}\n")
    assert sorted((p.as_posix(), p.is_symlink()) for p in tmp_path.rglob("*")) == before


def test_a_port_in_use_is_one_line_before_the_model_loads(monkeypatch, capsys):
    monkeypatch.setattr(page_module, "load_solver", lambda *args: pytest.fail("the model loaded"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = hrm(["app", "--model", str(MODEL), "--port", str(port)], capsys)
    assert (code, err) == (1, f"error: --host 127.0.0.1 --port {port}: cannot listen there: Address already in use.\n")


def test_a_space_of_a_model_trusted_to_run_its_own_code_runs_it_too(tmp_path, capsys):
    model = tiny_model_folder(tmp_path / "model")  # a model folder with its code
    code, out, err = hrm(
        ["app", "--model", str(model), "--trust-remote-code", "--export", str(tmp_path / "space")], capsys
    )
    assert code == 0, err
    app = (tmp_path / "space" / "app.py").read_text()
    assert 'serve(str(Path(__file__).parent / "model"), trust_remote_code=True, dataset=None, host=None' in app
    assert (tmp_path / "space" / "model" / "modeling_hrm.py").read_bytes() == (model / "modeling_hrm.py").read_bytes()


def test_export_refuses_a_local_dataset_a_space_cannot_read(tmp_path, capsys):
    code, out, err = hrm(
        ["app", "--model", str(MODEL), "--dataset", str(tmp_path), "--export", str(tmp_path / "space")], capsys
    )
    assert code == 1 and err.startswith(f"error: --dataset {tmp_path}: a Space reads held-out puzzles from a Hub")
    assert not (tmp_path / "space").exists()


def test_a_space_of_a_hub_model_names_it_at_the_exported_commit(local_hub, tmp_path, capsys):
    from huggingface_hub import HfApi

    push_folder(MODEL, "tester/sudoku4")
    commit = HfApi().model_info("tester/sudoku4").sha
    code, out, err = hrm(["app", "--model", "tester/sudoku4", "--export", str(tmp_path / "space")], capsys)
    assert code == 0, err
    folder = tmp_path / "space"
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "app.py", "requirements.txt"]  # no copy
    assert (
        f"serve('tester/sudoku4', revision='{commit}', dataset=None, host=None, port=None)"
        in (folder / "app.py").read_text()
    )
    assert front_matter((folder / "README.md").read_text())["models"] == ["tester/sudoku4"]


@pytest.mark.parametrize("export", [False, True], ids=["temporary folder", "--export too"])
def test_push_to_hub_creates_a_gradio_space_with_the_exported_files(local_hub, solver, tmp_path, capsys, export):
    from huggingface_hub import snapshot_download

    exported = tmp_path / "exported"
    code, out, err = hrm(
        ["app", "--model", str(MODEL), "--push-to-hub", "tester/solver", *(["--export", str(exported)] * export)],
        capsys,
    )
    assert code == 0, err
    assert out.startswith(f"Wrote the Space to {exported}\n" * export + "Pushed the Space to tester/solver: ")
    assert local_hub.hub.repos[("space", "tester/solver")].sdk == "gradio"
    pushed = Path(snapshot_download("tester/solver", repo_type="space"))
    if not export:
        export_space(solver, exported)
    files = sorted(p.relative_to(exported).as_posix() for p in exported.rglob("*") if p.is_file())
    assert sorted(p.relative_to(pushed).as_posix() for p in pushed.rglob("*") if p.is_file()) == files
    for name in files:
        assert (pushed / name).read_bytes() == (exported / name).read_bytes(), name


def test_a_refused_push_is_one_line_and_keeps_the_export_whole(local_hub, tmp_path, capsys):
    local_hub.hub.fail_next(403, count=5)
    argv = ["app", "--model", str(MODEL), "--export", str(tmp_path / "space"), "--push-to-hub", "tester/solver"]
    code, out, err = hrm(argv, capsys)
    line = err.splitlines()[-1]  # after the model's loading bar
    assert code == 1 and line.startswith("error: Push of ") and "HTTP 403" in line and err.count("error:") == 1
    assert ("space", "tester/solver") not in local_hub.hub.repos
    assert sorted(p.name for p in (tmp_path / "space").iterdir()) == [
        "README.md",
        "app.py",
        "model",
        "requirements.txt",
    ]


# ---------------------------------------------------------------- the page in a real browser


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_served(url: str, server: subprocess.Popen, log: Path) -> None:
    """Return once `url` answers; fail with the server's output when it exits or takes too long."""
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"hrm app exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"hrm app did not answer at {url} within {SERVER_START_S}s:\n{log.read_text()[-3000:]}")


def require_browser():
    """Playwright's sync API, or a skip saying how to get Chromium; with HRM_REQUIRE_BROWSER=1 (CI) a failure."""
    problem = None
    if not CHROMIUM.is_file():
        problem = f"no Chromium at {CHROMIUM}: install it with `apt-get install chromium` (Debian)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        problem = 'no playwright: pip install -e ".[dev]"'
    if problem:
        if os.environ.get("HRM_REQUIRE_BROWSER") == "1":
            pytest.fail(f"HRM_REQUIRE_BROWSER=1, but {problem}")
        pytest.skip(f"the browser test needs {problem}")
    return sync_playwright


def test_the_page_solves_a_typed_puzzle_and_words_a_bad_one_in_a_real_browser(tmp_path):
    sync_playwright = require_browser()
    port, log = free_port(), tmp_path / "server.log"
    command = [sys.executable, "-m", "hrm_hf.scripts", "app", "--model", str(MODEL), "--port", str(port)]
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    env.pop("HRM_DEBUG", None)  # as a user runs it: errors are lines on the page, no traceback in the log
    user_folder = tmp_path / "user"  # a user's empty folder: the app writes nothing there
    user_folder.mkdir()
    with open(log, "w") as output:
        server = subprocess.Popen(command, cwd=user_folder, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_until_served(f"http://127.0.0.1:{port}/", server, log)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/")
            status = page.locator("#status textarea")
            page.locator("#puzzle textarea").fill(PUZZLE)
            page.locator("#solve").click()
            page.wait_for_function("document.querySelector('#status textarea').value !== ''", timeout=60_000)
            assert status.input_value() == "solved"
            assert cells(page.locator("#answer textarea").input_value()) == SOLUTION
            assert page.locator("#rules textarea").input_value() == "yes"
            assert page.locator("#segments textarea").input_value() == "1"
            assert page.locator("#picture img").count() == 1 and page.locator("#formed img").count() == 1
            page.screenshot(path=tmp_path / "app.png", full_page=True)
            page.locator("#puzzle textarea").fill("12.4")
            page.locator("#solve").click()
            page.wait_for_function(
                "document.querySelector('#status textarea').value.startsWith('error')", timeout=60_000
            )
            assert status.input_value() == "error: sudoku must have 16 cells, got 4 in '12.4'."
            assert page.locator("#answer textarea").input_value() == ""
            browser.close()
        assert (tmp_path / "app.png").stat().st_size > 10_000
        assert not any(user_folder.iterdir())
        assert "Traceback" not in log.read_text()
    finally:
        server.terminate()
        server.wait(timeout=30)
